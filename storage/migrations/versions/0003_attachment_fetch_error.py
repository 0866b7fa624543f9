"""attachment fetch error

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa
import storage.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fetch_error', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_attachments_fetched_at'), ['fetched_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachments_fetched_at'))
        batch_op.drop_column('fetch_error')

