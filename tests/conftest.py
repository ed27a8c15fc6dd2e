"""Test harness: a real PostgreSQL + PostGIS database, migrated with Alembic once per run;
every test runs inside a transaction that is rolled back at its end.

The database comes from TEST_DATABASE_URL, else DATABASE_URL (``make test`` sets it to a
dedicated ``fieldrecall_test`` database).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.migrate import upgrade

REGISTRY_TABLES = ("partner", "site", "batch", "unit", "failure_report", "weather_station")


def _database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        pytest.exit("set DATABASE_URL (or run `make test`, which sets up a database)", 2)
    return url


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
    with TestClient(create_app(sessions), raise_server_exceptions=False) as c:
        yield c
