"""unit codes are unique ignoring case

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Officers type "/disposisi X keu" as readily as "KEU": two units whose codes differ
    # only in case cannot both exist. Say which ones clash rather than fail on the index.
    clash = op.get_bind().execute(sa.text(
        "SELECT lower(code) FROM units GROUP BY lower(code) HAVING count(*) > 1")).scalars().all()
    if clash:
        raise RuntimeError("units whose codes differ only in case: " + ", ".join(clash)
                           + "; rename one (UPDATE units SET code = ...) and upgrade again")
    op.create_index("uq_units_code_lower", "units", [sa.text("lower(code)")], unique=True)


def downgrade() -> None:
    op.drop_index("uq_units_code_lower", "units")
