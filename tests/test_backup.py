"""Nothing is lost: a demo database dumped as README says (pg_dump, custom format) and
restored into a new database is equal to the original, table by table, row for row."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from core.db import upgrade


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def databases(engine: Engine) -> Iterator[tuple[str, str]]:
    """Two empty databases of this test's own beside the test database: the original
    (migrated) and the one to restore into."""
    base = engine.url
    names = [f"{base.database}_backup", f"{base.database}_restored"]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    urls = [base.set(database=n).render_as_string(hide_password=False) for n in names]
    try:
        yield urls[0], urls[1]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def fieldrecall(url: str, *args: str) -> None:
    exe = Path(sys.executable).with_name("fieldrecall")
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def table_digests(url: str) -> dict[str, tuple[int, str]]:
    """Per table of the public schema: its row count and a digest of all its rows."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = conn.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            ).all()
            return {
                t: tuple(
                    conn.execute(
                        text(
                            f"SELECT count(*), coalesce(md5(string_agg(r::text, E'\\n'"
                            f" ORDER BY r::text)), '') FROM \"{t}\" r"
                        )
                    ).one()
                )
                for t in tables
            }
    finally:
        engine.dispose()


def test_a_demo_database_restores_equal_row_for_row(
    databases: tuple[str, str], tmp_path: Path
) -> None:
    original, restored = databases
    upgrade(original)
    fieldrecall(original, "demo", "generate", str(tmp_path / "demo"), "--seed", "3")
    fieldrecall(original, "demo", "load", str(tmp_path / "demo"))
    fieldrecall(original, "keys", "create", "--role", "support_lead")
    fieldrecall(original, "detect", "--as-of", "2026-02-28", "--json")

    dump = tmp_path / "fieldrecall.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={dump}", _libpq(original)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq(restored)}", str(dump)],
        check=True,
        capture_output=True,
    )

    before, after = table_digests(original), table_digests(restored)
    assert before == after
    assert before["unit"][0] == 12000 and before["event"][0] > 0
    assert before["detection_result"][0] > 0 and before["api_key"][0] == 1
