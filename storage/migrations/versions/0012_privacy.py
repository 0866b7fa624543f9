"""privacy: anonymised cases, cleared outbox texts, erasure requests

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

import storage.types

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("anonymised_at", storage.types.UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_cases_to_anonymise", "cases", ["closed_at"],
                    postgresql_where=sa.text("anonymised_at IS NULL"), sqlite_where=sa.text("anonymised_at IS NULL"))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("cleared_at", storage.types.UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_outbox_to_clear", "outbox", ["created_at"],
                    postgresql_where=sa.text("cleared_at IS NULL"), sqlite_where=sa.text("cleared_at IS NULL"))
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("requested_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizens.id"], name="fk_privacy_requests_citizen_id_citizens",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_privacy_requests"),
    )
    op.create_index("ix_privacy_requests_citizen_id", "privacy_requests", ["citizen_id"])


def downgrade() -> None:
    op.drop_table("privacy_requests")
    op.drop_index("ix_outbox_to_clear", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("cleared_at")
    op.drop_index("ix_cases_to_anonymise", "cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("anonymised_at")
