"""Test harness: a real PostgreSQL + PostGIS database, migrated with Alembic once per run;
every test runs inside a transaction that is rolled back at its end, except those that ask
for ``committed`` (a worker or the demo job opens its own connections).

The database comes from TEST_DATABASE_URL, else DATABASE_URL (``make test`` sets it to a
dedicated ``fieldrecall_test`` database).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from core.db import get_engine, upgrade
from core.settings import get_settings
from routing.sheets import days

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

REGISTRY_TABLES = ("partner", "site", "batch", "unit", "failure_report", "weather_station")


def _database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        pytest.exit("set DATABASE_URL (or run `make test`, which sets up a database)", 2)
    return url


@dataclass
class FieldClock:
    """The clock of the technicians' work (``routing.sheets.days.now``): outcomes wait for
    their stop's day, and the field app keeps the days from today on."""

    instant: datetime

    def set(self, instant: datetime) -> None:
        self.instant = instant


# After every plan the tests make (December 2026): work on any of their days is allowed.
FIELD_CLOCK_DEFAULT = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def field_clock(monkeypatch: pytest.MonkeyPatch) -> FieldClock:
    """A fixed clock for the field workflow (the wall clock would make the day rule pass
    or fail by the date the tests run on); a test sets another instant with ``.set()``."""
    clock = FieldClock(FIELD_CLOCK_DEFAULT)
    monkeypatch.setattr(days, "now", lambda: clock.instant)
    return clock


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    url = _database_url()
    upgrade(url)
    eng = create_engine(url)
    with eng.connect() as conn:
        leftovers = [t for t in REGISTRY_TABLES if conn.scalar(text(f"SELECT count(*) FROM {t}"))]
    if leftovers:
        pytest.exit(
            f"the test database {eng.url.render_as_string()} is not empty (rows in "
            f"{', '.join(leftovers)}); tests need an empty database: unset DATABASE_URL to "
            "let `make test` use its own, or point TEST_DATABASE_URL at an empty one",
            2,
        )
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    try:
        yield conn
    finally:
        outer.rollback()
        conn.close()


@pytest.fixture
def sessions(connection: Connection) -> sessionmaker[Session]:
    # Commits inside the code under test become savepoint releases in the outer transaction.
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s


@pytest.fixture
def client(sessions: sessionmaker[Session]) -> Iterator[TestClient]:
    # Imported here, not above: the engine and statistics tests must run without the app.
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(sessions), raise_server_exceptions=False) as c:
        yield c


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
    with emptied_afterwards(engine):
        try:
            yield engine
        finally:
            _reset_caches()


@contextmanager
def emptied_afterwards(engine: Engine) -> Iterator[None]:
    """Empty every table the block may have committed to, once it ends."""
    with engine.connect() as conn:
        last_event = conn.scalar(text("SELECT coalesce(max(id), 0) FROM event"))
    try:
        yield
    finally:
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


# An address of the public internet; nothing here ever connects to it.
PUBLIC_ADDRESS = "93.184.215.14"


@pytest.fixture
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhook hosts under ``.example`` resolve to a public address (this machine has no
    DNS); IP literals resolve to themselves, as the system resolver would."""
    from recall.notify import targets

    system = targets.system_resolver

    def resolve(host: str, port: int) -> list[str]:
        return [PUBLIC_ADDRESS] if host.endswith(".example") else system(host, port)

    monkeypatch.setattr(targets, "system_resolver", resolve)
