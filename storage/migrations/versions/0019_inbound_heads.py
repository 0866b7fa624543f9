"""inbound queue: each office's waiting messages in id order (the head of its queue,
read by the inbound workers' plan without scanning the whole backlog)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

WAITING = sa.text("handled_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_inbound_messages_waiting", "inbound_messages", ["office_id", "id"],
                    postgresql_where=WAITING, sqlite_where=WAITING)


def downgrade() -> None:
    op.drop_index("ix_inbound_messages_waiting", table_name="inbound_messages")
