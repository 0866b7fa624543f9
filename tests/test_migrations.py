"""The schema the migrations build is the schema the models describe, on SQLite and
PostgreSQL; and the offices migration makes an installation's single office the first
office without losing a row, and goes back while there is no other office."""
from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.db import make_engine
from storage.migrate import downgrade, upgrade
from storage.models import Base
from tests.conftest import DB_BACKENDS, PG_URL


@pytest.fixture(params=DB_BACKENDS)
def fresh(request, tmp_path):
    """An empty database of its own."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield engine
        engine.dispose()
        return
    schema = f"aduan_mig_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url.render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_the_migrations_build_what_the_models_describe(fresh):
    upgrade(fresh)
    with fresh.connect() as conn:
        # Expression indexes (lower(code)) are not compared by Alembic; everything else is.
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_the_single_office_becomes_the_first_and_keys_become_per_office(fresh):
    upgrade(fresh, "0016")
    with fresh.begin() as c:
        c.execute(text("INSERT INTO units (code, name, created_at) VALUES ('KEU', 'Keuangan', '2025-04-01')"))
        c.execute(text("INSERT INTO citizens (id, language, created_at) VALUES (5, 'id', '2025-04-01')"))
        c.execute(text("INSERT INTO citizen_identities (citizen_id, channel, external_id) VALUES (5, 'telegram', '77')"))
        c.execute(text("INSERT INTO ticket_counters (year, last) VALUES (2025, 1)"))
        c.execute(text("INSERT INTO cases (id, ticket, kind, channel, text, privacy, state, workflow, citizen_id, "
                       "unit_id, language, created_at, updated_at, version) VALUES (7, 'ADU-2025-000001', "
                       "'pengaduan', 'telegram', 'x', 'biasa', 'submitted', 'sp4n-lapor', 5, 1, 'id', "
                       "'2025-04-01', '2025-04-01', 1)"))
    upgrade(fresh)
    with fresh.begin() as c:
        assert c.execute(text("SELECT id, code FROM offices")).all() == [(1, "utama")]
        for table in ("units", "citizens", "citizen_identities", "ticket_counters", "cases"):
            assert c.execute(text(f"SELECT office_id FROM {table}")).scalars().all() == [1], table
        # A second office may have the same ticket, unit code, chat and counter year.
        c.execute(text("INSERT INTO offices (code, settings, created_at) VALUES ('kota-b', '{}', '2025-04-02')"))
        b = c.execute(text("SELECT id FROM offices WHERE code = 'kota-b'")).scalar()
        assert b == 2  # the sequence knows the first office
        c.execute(text(f"INSERT INTO units (office_id, code, name, created_at) VALUES ({b}, 'keu', 'Keu', '2025-04-02')"))
        c.execute(text(f"INSERT INTO citizens (id, office_id, language, created_at) VALUES (6, {b}, 'id', '2025-04-02')"))
        c.execute(text(f"INSERT INTO citizen_identities (office_id, citizen_id, channel, external_id) "
                       f"VALUES ({b}, 6, 'telegram', '77')"))
        c.execute(text(f"INSERT INTO ticket_counters (office_id, year, last) VALUES ({b}, 2025, 1)"))
        c.execute(text(f"INSERT INTO cases (office_id, ticket, kind, channel, text, privacy, state, workflow, "
                       f"language, created_at, updated_at, version) VALUES ({b}, 'ADU-2025-000001', 'pengaduan', "
                       f"'telegram', 'y', 'biasa', 'submitted', 'sp4n-lapor', 'id', '2025-04-02', '2025-04-02', 1)"))
    with pytest.raises(Exception):  # still unique within an office, ignoring case
        with fresh.begin() as c:
            c.execute(text("INSERT INTO units (office_id, code, name, created_at) VALUES (1, 'keu', 'K', '2025-04-02')"))
    with pytest.raises(RuntimeError, match="offices besides the first"):
        downgrade(fresh, "0016")
    with fresh.begin() as c:
        for table in ("cases", "ticket_counters", "citizen_identities", "citizens", "units"):
            c.execute(text(f"DELETE FROM {table} WHERE office_id = 2"))
        c.execute(text("DELETE FROM offices WHERE id = 2"))
    downgrade(fresh, "0016")
    with fresh.connect() as c:
        assert c.execute(text("SELECT ticket FROM cases")).scalars().all() == ["ADU-2025-000001"]
        assert c.execute(text("SELECT year, last FROM ticket_counters")).all() == [(2025, 1)]
