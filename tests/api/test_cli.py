"""The command line against the real database. Only refusals are exercised here, so
nothing is committed: a refused command must leave the database as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from api.cli import app
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


def test_db_upgrade_brings_the_database_to_the_newest_revision(
    runner: CliRunner, engine: Engine
) -> None:
    from alembic.script import ScriptDirectory

    from core.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("unused")).get_current_head()
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == head
        assert conn.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")) == 1


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
    (decoy / "__init__.py").write_text("")
    (decoy / "metadata.py").write_text("raise ImportError('the decoy was imported')\n")
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
