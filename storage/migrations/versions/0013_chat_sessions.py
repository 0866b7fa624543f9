"""cookie sessions of the web chat (rotation, "end session"), and officers' web chat links
confirmed from another chat app

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

import storage.types

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("chat_id", sa.String(100), nullable=False),
        sa.Column("nonce_hash", sa.String(64), nullable=True),
        sa.Column("previous_hash", sa.String(64), nullable=True),
        sa.Column("rotated_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("level", sa.SmallInteger(), nullable=False, server_default="0"),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_chat_sessions"),
        sa.UniqueConstraint("channel", "chat_id", name="uq_chat_sessions_channel_chat_id"),
    )
    with op.batch_alter_table("officer_identities") as batch:
        batch.add_column(sa.Column("confirmed_at", storage.types.UTCDateTime(timezone=True), nullable=True))
    # Links made with a code typed in a chat app count as confirmed; a web chat link was only
    # ever a cookie, so it stays unconfirmed until the officer confirms it from another app.
    identities = sa.table("officer_identities", sa.column("channel", sa.String),
                          sa.column("confirmed_at", storage.types.UTCDateTime(timezone=True)))
    op.execute(identities.update().where(identities.c.channel != "webchat")
               .values(confirmed_at=datetime.now(timezone.utc)))


def downgrade() -> None:
    with op.batch_alter_table("officer_identities") as batch:
        batch.drop_column("confirmed_at")
    op.drop_table("chat_sessions")
