"""web back office: one-time sign-ins (a link asked for in chat, a code a sign-in page
shows) and officers' web sessions, both kept as hashes and owned by an office

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-10
"""
from alembic import op
import sqlalchemy as sa

import storage.types

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

UTC = storage.types.UTCDateTime(timezone=True)


def _office():
    return sa.Column("office_id", sa.Integer(), server_default="1", nullable=False)


def upgrade() -> None:
    op.create_table(
        "web_sign_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=True),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("confirmed_at", UTC, nullable=True),
        sa.Column("used_at", UTC, nullable=True),
        _office(),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"], name="fk_web_sign_ins_officer_id_officers",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["office_id"], ["offices.id"], name="fk_web_sign_ins_office_id_offices"),
        sa.PrimaryKeyConstraint("id", name="pk_web_sign_ins"),
        sa.UniqueConstraint("office_id", "secret_hash", name="uq_web_sign_ins_office_id_secret_hash"),
    )
    op.create_index("ix_web_sign_ins_expires", "web_sign_ins", ["expires_at"])
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("seen_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("ended_at", UTC, nullable=True),
        _office(),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"], name="fk_web_sessions_officer_id_officers",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["office_id"], ["offices.id"], name="fk_web_sessions_office_id_offices"),
        sa.PrimaryKeyConstraint("id", name="pk_web_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_web_sessions_token_hash"),
    )
    op.create_index("ix_web_sessions_officer_id", "web_sessions", ["officer_id"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_officer_id", "web_sessions")
    op.drop_table("web_sessions")
    op.drop_index("ix_web_sign_ins_expires", "web_sign_ins")
    op.drop_table("web_sign_ins")
