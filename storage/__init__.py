"""Persistence: SQLAlchemy models, Alembic migrations, repositories and Redis helpers.

The database is the source of truth; Redis holds nothing that cannot be rebuilt.
"""
