"""Fixtures for detection tests that need committed data.

The Procrastinate worker and the demo job open their own connections, so they cannot see
the rolled-back transaction of the usual ``session`` fixture. ``committed`` lets a test
write for real, then removes everything it wrote, leaving the test database as empty as
the harness requires at its next start.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from core.db import get_engine
from core.settings import get_settings

# Kept across the clean-up: the migration state and PostGIS's own reference table.
KEEP = ("alembic_version", "spatial_ref_sys", "event")


def _reset_caches() -> None:
    get_engine().dispose()  # no idle connection may hold a lock the clean-up needs
    get_engine.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def committed(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """Point the product's own engine (settings, ``transaction()``, the worker) at the test
    database, and empty every table the test may have written to afterwards."""
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    _reset_caches()
    with engine.connect() as conn:
        last_event = conn.scalar(text("SELECT coalesce(max(id), 0) FROM event"))
    try:
        yield engine
    finally:
        _reset_caches()
        with engine.begin() as conn:
            tables = conn.scalars(
                text(
                    "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'"
                    " AND tablename <> ALL(:keep)"
                ),
                {"keep": list(KEEP)},
            ).all()
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            # The audit trail refuses DELETE and TRUNCATE by trigger (append-only in the
            # product); a test's own rows are removed with triggers off for this
            # transaction only, which needs the superuser role the test database has.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text("DELETE FROM event WHERE id > :last"), {"last": last_event})
