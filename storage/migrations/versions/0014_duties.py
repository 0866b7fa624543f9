"""periodic duties: one row per duty and period, its clock a deadline row without a case

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08
"""
from alembic import op
import sqlalchemy as sa

import storage.types

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('stage', 'escalation')"
KINDS = ("(kind IN ('stage', 'escalation') AND case_id IS NOT NULL AND duty_id IS NULL)"
         " OR (kind = 'duty' AND case_id IS NULL AND duty_id IS NOT NULL)")
OPEN = sa.text("completed_at IS NULL")
UNBREACHED = sa.text("completed_at IS NULL AND breached_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "duties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("duty", sa.String(60), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("role", sa.String(60), nullable=False),
        sa.Column("opened_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_by_id", sa.Integer(), nullable=True),
        sa.Column("done_by", sa.String(200), nullable=True),
        sa.Column("done_via", sa.String(10), nullable=True),
        sa.ForeignKeyConstraint(["done_by_id"], ["officers.id"], name="fk_duties_done_by_id_officers",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_duties"),
        sa.UniqueConstraint("duty", "period", name="uq_duties_duty_period"),
    )
    # SQLite rebuilds the table in batch mode; the partial indexes of 0007 are recreated
    # after it, as they were (the rebuild does not carry their WHERE over).
    op.drop_index("ix_deadlines_due_open", "deadlines")
    op.drop_index("ix_deadlines_remind_open", "deadlines")
    with op.batch_alter_table("deadlines") as batch:
        batch.drop_constraint(op.f("ck_deadlines_kind"), type_="check")
        batch.alter_column("case_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("duty_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_deadlines_duty_id_duties", "duties", ["duty_id"], ["id"], ondelete="CASCADE")
        batch.create_index("ix_deadlines_duty_id", ["duty_id"], unique=False)
        batch.create_check_constraint(op.f("ck_deadlines_kind"), KINDS)
    op.create_index("ix_deadlines_remind_open", "deadlines", ["next_remind_at"],
                    postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index("ix_deadlines_due_open", "deadlines", ["due_at"],
                    postgresql_where=UNBREACHED, sqlite_where=UNBREACHED)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM deadlines WHERE kind = 'duty'"))
    op.drop_index("ix_deadlines_due_open", "deadlines")
    op.drop_index("ix_deadlines_remind_open", "deadlines")
    with op.batch_alter_table("deadlines") as batch:
        batch.drop_constraint(op.f("ck_deadlines_kind"), type_="check")
        batch.drop_index("ix_deadlines_duty_id")
        batch.drop_constraint("fk_deadlines_duty_id_duties", type_="foreignkey")
        batch.drop_column("duty_id")
        batch.alter_column("case_id", existing_type=sa.Integer(), nullable=False)
        batch.create_check_constraint(op.f("ck_deadlines_kind"), OLD_KINDS)
    op.create_index("ix_deadlines_remind_open", "deadlines", ["next_remind_at"],
                    postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index("ix_deadlines_due_open", "deadlines", ["due_at"],
                    postgresql_where=UNBREACHED, sqlite_where=UNBREACHED)
    op.drop_table("duties")
