"""The command line against the real database. Only refusals are exercised on the test
database, so nothing is committed there: a refused command must leave it as it was. The
upgrade runs on a database of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from api.cli.main import app
from core.db import alembic_config
from core.settings import get_settings
from devices.csv_formats import IMPORT_ORDER


@pytest.fixture
def runner(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    return CliRunner()


def test_import_refuses_a_bad_file_with_exit_2_naming_every_bad_row(
    runner: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    bad = tmp_path / "partners.csv"
    bad.write_text("partner_key,name,contact_email\nP1,Ok,\nP2,,x@y.example\nP3,Bad,nope\n")
    result = runner.invoke(app, ["import", "partners", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:3: column 2 (name): is required" in result.output
    assert f"{bad}:4: column 3 (contact_email): not an email address" in result.output
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM partner WHERE partner_key = 'P1'")) == 0


def test_keys_for_unknown_partners_are_refused(runner: CliRunner, engine: Engine) -> None:
    result = runner.invoke(app, ["keys", "create", "--role", "partner", "--partner", "NOPE"])
    assert result.exit_code == 2 and "no partner with partner_key 'NOPE'" in result.output
    result = runner.invoke(app, ["keys", "create", "--role", "admin"])
    assert result.exit_code == 2 and "role must be one of" in result.output


@pytest.fixture
def empty_database(engine: Engine) -> Iterator[Engine]:
    """A new, empty database on the test server (the harness's own is migrated already, so
    an upgrade there would be a no-op that proves nothing); dropped afterwards."""
    name = f"fieldrecall_upgrade_{uuid.uuid4().hex[:12]}"
    admin = engine.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    fresh = create_engine(engine.url.set(database=name))
    try:
        yield fresh
    finally:
        get_settings.cache_clear()  # forget the URL of a database about to be dropped
        fresh.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


def test_db_upgrade_brings_an_empty_database_to_the_newest_revision(
    empty_database: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = empty_database.url.render_as_string(hide_password=False)
    with empty_database.connect() as conn:
        assert conn.scalar(text("SELECT to_regclass('alembic_version')")) is None
        assert conn.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")) == 0
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()  # the CLI reads the URL through the process-wide settings
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with empty_database.connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == head
        assert conn.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")) == 1
        assert conn.scalar(text("SELECT to_regclass('recall_campaign')")) is not None


def test_demo_generate_writes_the_eight_files_deterministically(
    runner: CliRunner, tmp_path: Path
) -> None:
    for out in ("a", "b"):
        result = runner.invoke(app, ["demo", "generate", str(tmp_path / out), "--seed", "5"])
        assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "a").glob("*.csv"))
    assert names == sorted(f"{kind}.csv" for kind in IMPORT_ORDER)
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_db_upgrade_ignores_a_migrations_package_in_the_working_directory(
    engine: Engine, tmp_path: Path
) -> None:
    decoy = tmp_path / "migrations"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise ImportError('the decoy was imported')\n")
    env = {**os.environ, "DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    # The console script, as people run it: `python -c` would put the directory on
    # sys.path itself.
    done = subprocess.run(
        [str(Path(sys.executable).with_name("fieldrecall")), "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "latest migration" in done.stdout
