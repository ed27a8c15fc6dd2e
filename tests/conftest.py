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
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.migrate import upgrade


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
