"""offices: one deployment, many offices. Every table that holds an office's data carries
`office_id`; the single office of before is the first office (id 1, code "utama"); unique
keys (ticket numbers, chat addresses, unit codes, provider ids, runs, duties) are per office

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

import storage.types

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

OWNED = ("units", "citizens", "citizen_identities", "officers", "officer_identities", "ticket_counters",
         "cases", "case_events", "attachments", "deadlines", "reminders", "scheduled_runs", "outbox",
         "access_attempts", "inbound_messages", "chat_sessions", "dialogs", "ratings", "privacy_requests",
         "duties", "survey_responses")
# table: (the old unique key's columns, widened with office_id)
UNIQUE = {
    "citizen_identities": ("channel", "external_id"),
    "officer_identities": ("channel", "external_id"),
    "cases": ("ticket",),
    "scheduled_runs": ("job", "run_key"),
    "inbound_messages": ("channel", "provider_message_id"),
    "chat_sessions": ("channel", "chat_id"),
    "dialogs": ("channel", "chat_id"),
    "duties": ("duty", "period"),
    "units": ("code",),
}
PENDING = sa.text("handled_at IS NULL")


def _uq(table, cols):
    return f"uq_{table}_{'_'.join(cols)}"


def upgrade() -> None:
    op.create_table(
        "offices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["offices.id"], name="fk_offices_parent_id_offices"),
        sa.PrimaryKeyConstraint("id", name="pk_offices"),
        sa.UniqueConstraint("code", name="uq_offices_code"),
    )
    op.execute(sa.text("INSERT INTO offices (id, code, parent_id, settings, created_at) "
                       "VALUES (1, 'utama', NULL, '{}', CURRENT_TIMESTAMP)"))
    if op.get_bind().dialect.name == "postgresql":  # the next office gets 2
        op.execute(sa.text("SELECT setval(pg_get_serial_sequence('offices', 'id'), 1)"))
    op.drop_index("uq_units_code_lower", "units")
    op.drop_index("ix_inbound_messages_pending", "inbound_messages")
    op.drop_index("ix_outbox_chat", "outbox")
    for table in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("office_id", sa.Integer(), nullable=False, server_default="1"))
            batch.create_foreign_key(f"fk_{table}_office_id_offices", "offices", ["office_id"], ["id"])
            if table in UNIQUE:
                cols = UNIQUE[table]
                batch.drop_constraint(_uq(table, cols), type_="unique")
                if table != "units":  # its key ignores case: an index, below
                    batch.create_unique_constraint(_uq(table, ("office_id",) + cols), ["office_id", *cols])
            if table == "ticket_counters":  # one sequence per office and year
                batch.drop_constraint("pk_ticket_counters", type_="primary")
                batch.create_primary_key("pk_ticket_counters", ["office_id", "year"])
    op.create_index("uq_units_office_code_lower", "units", ["office_id", sa.text("lower(code)")], unique=True)
    op.create_index("ix_inbound_messages_pending", "inbound_messages", ["office_id", "channel", "chat_id", "id"],
                    postgresql_where=PENDING, sqlite_where=PENDING)
    op.create_index("ix_outbox_chat", "outbox", ["office_id", "channel", "chat_id", "id"])


def downgrade() -> None:
    others = op.get_bind().execute(sa.text("SELECT count(*) FROM offices WHERE id <> 1")).scalar()
    if others:
        raise RuntimeError(f"{others} offices besides the first: their data has no place before 0017")
    op.drop_index("ix_outbox_chat", "outbox")
    op.drop_index("ix_inbound_messages_pending", "inbound_messages")
    op.drop_index("uq_units_office_code_lower", "units")
    for table in reversed(OWNED):
        with op.batch_alter_table(table) as batch:
            if table == "ticket_counters":
                batch.drop_constraint("pk_ticket_counters", type_="primary")
                batch.create_primary_key("pk_ticket_counters", ["year"])
            if table in UNIQUE:
                cols = UNIQUE[table]
                if table != "units":
                    batch.drop_constraint(_uq(table, ("office_id",) + cols), type_="unique")
                batch.create_unique_constraint(_uq(table, cols), list(cols))
            batch.drop_constraint(f"fk_{table}_office_id_offices", type_="foreignkey")
            batch.drop_column("office_id")
    op.create_index("ix_outbox_chat", "outbox", ["channel", "chat_id", "id"])
    op.create_index("ix_inbound_messages_pending", "inbound_messages", ["channel", "chat_id", "id"],
                    postgresql_where=PENDING, sqlite_where=PENDING)
    op.create_index("uq_units_code_lower", "units", [sa.text("lower(code)")], unique=True)
    op.drop_table("offices")
