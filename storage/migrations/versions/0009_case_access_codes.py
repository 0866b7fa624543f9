"""access codes for cases (/status TICKET CODE) and the wrong guesses that throttle them

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

import storage.types

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("access_code_hash", sa.String(64), nullable=True))
    op.create_table(
        "access_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("who", sa.String(100), nullable=False),
        sa.Column("ticket", sa.String(40), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_attempts"),
    )
    op.create_index("ix_access_attempts_who", "access_attempts", ["who", "at"])
    op.create_index("ix_access_attempts_ticket", "access_attempts", ["ticket", "at"])
    op.create_index("ix_access_attempts_at", "access_attempts", ["at"])


def downgrade() -> None:
    op.drop_table("access_attempts")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("access_code_hash")
