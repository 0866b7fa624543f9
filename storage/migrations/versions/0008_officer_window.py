"""officers' WhatsApp window: when each officer identity last wrote

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa
import storage.types


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('officer_identities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_inbound_at', storage.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('officer_identities', schema=None) as batch_op:
        batch_op.drop_column('last_inbound_at')
