"""A scratch database for migration tests: created beside the test database, migrated to
the revision a test starts from, dropped afterwards (whatever the test left in it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from core.db import upgrade


@contextmanager
def database_at(engine: Engine, revision: str) -> Iterator[tuple[str, Engine]]:
    """(URL, engine) of a new database migrated to ``revision``; the server is
    ``engine``'s."""
    name = f"fieldrecall_at_{revision}_{uuid.uuid4().hex[:12]}"
    admin = engine.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = engine.url.set(database=name)
    fresh = create_engine(url)
    try:
        upgrade(url.render_as_string(hide_password=False), revision)
        yield url.render_as_string(hide_password=False), fresh
    finally:
        fresh.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
