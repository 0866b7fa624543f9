"""partial indexes for the scheduler's due queries

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OPEN = sa.text("completed_at IS NULL")
UNBREACHED = sa.text("completed_at IS NULL AND breached_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_deadlines_remind_open", "deadlines", ["next_remind_at"],
                    postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index("ix_deadlines_due_open", "deadlines", ["due_at"],
                    postgresql_where=UNBREACHED, sqlite_where=UNBREACHED)


def downgrade() -> None:
    op.drop_index("ix_deadlines_due_open", "deadlines")
    op.drop_index("ix_deadlines_remind_open", "deadlines")
