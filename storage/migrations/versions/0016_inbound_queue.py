"""inbound queue: a delivery is stored first and handled later, in order per chat;
handled_at marks it done, tries and set_aside_at keep a poison message from blocking its chat

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-09
"""
from alembic import op
import sqlalchemy as sa

import storage.types

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

PENDING = sa.text("handled_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("handled_at", storage.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("tries", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("set_aside_at", storage.types.UTCDateTime(timezone=True), nullable=True))
    # Everything stored before was handled in the request that stored it.
    op.execute(sa.text("UPDATE inbound_messages SET handled_at = received_at"))
    # The workers look for the lowest unhandled id of each chat: only the few pending rows.
    op.create_index("ix_inbound_messages_pending", "inbound_messages", ["channel", "chat_id", "id"],
                    postgresql_where=PENDING, sqlite_where=PENDING)


def downgrade() -> None:
    op.drop_index("ix_inbound_messages_pending", "inbound_messages")
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("set_aside_at")
        batch.drop_column("tries")
        batch.drop_column("handled_at")
