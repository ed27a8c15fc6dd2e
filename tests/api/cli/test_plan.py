"""``fieldrecall plan ...`` against the real database: refusals (exit 2, nothing written),
then the whole flow on committed data (start --wait, show, publish, absence, replan
--wait, list); the ``committed`` fixture empties the database afterwards."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.app import create_app
from api.cli.main import app as cli
from devices.importer import import_csv
from tests.recall.campaigns.fixtures import declare, load_recall_registry


@pytest.fixture
def runner(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    return CliRunner()


def test_refusals_exit_2_and_write_nothing(runner: CliRunner, engine: Engine) -> None:
    cases = [
        (["plan", "start", "999999", "--from", "2026-11-30", "--to", "2026-12-04"], "no campaign"),
        (["plan", "show", "999999"], "no plan 999999"),
        (["plan", "publish", "999999"], "no plan 999999"),
        (["plan", "absence", "NOPE", "--from", "2026-12-01"], "no technician 'NOPE'"),
        (["plan", "closure", "NOPE", "--from", "2026-12-01"], "no site 'NOPE'"),
    ]
    for args, words in cases:
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert words in result.output, (args, result.output)
    with engine.connect() as conn:
        for table in ("field_plan", "technician_absence", "site_closure"):
            assert conn.scalar(text(f"SELECT count(*) FROM {table}")) == 0


def test_the_whole_flow_from_the_command_line(committed: Engine) -> None:
    with Session(committed) as session:
        keys = load_recall_registry(session)
        import_csv(
            session,
            "technicians",
            b"technician_key,name,home_lat,home_lon,skills\nT2,Toni Tech,60.2,24.9,OU-200\n",
            filename="technicians.csv",
        )
        session.commit()
    with TestClient(create_app()) as client:
        campaign = str(declare(client, keys.lead, batch_keys=["B1"])["id"])
    run = CliRunner()
    days = ["--from", "2026-11-30", "--to", "2026-12-04"]
    started = run.invoke(cli, ["plan", "start", campaign, *days, "--seconds", "2", "--wait"])
    assert started.exit_code == 0, started.output
    assert "done" in started.output and "visits planned 3 of 4" in started.output
    assert "out_of_reach 1" in started.output and "validator ok" in started.output
    with committed.connect() as conn:
        plan_id = conn.scalar(text("SELECT max(id) FROM field_plan"))
        # --wait solves here: no job was left for a worker.
        assert (
            conn.scalar(
                text(
                    "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'routing.plan_campaign'"
                )
            )
            == 0
        )
    shown = run.invoke(cli, ["plan", "show", str(plan_id), "--json"])
    assert shown.exit_code == 0
    assert len(json.loads(shown.output)["routes"]) == 2
    published = run.invoke(cli, ["plan", "publish", str(plan_id)])
    assert published.exit_code == 0 and "3 visits newly scheduled" in published.output
    absent = run.invoke(cli, ["plan", "absence", "T2", "--from", "2026-12-01", "--reason", "flu"])
    assert absent.exit_code == 0 and "T2 absent on 2026-12-01" in absent.output
    replanned = run.invoke(
        cli, ["plan", "replan", campaign, "--today", "2026-11-30", "--seconds", "2", "--wait"]
    )
    assert replanned.exit_code == 0, replanned.output
    assert "version 2" in replanned.output and "re-plan:" in replanned.output
    listed = run.invoke(cli, ["plan", "list", campaign])
    assert listed.exit_code == 0
    assert listed.output.splitlines()[0].startswith(f"plan {plan_id + 1} v2: done")
    assert f"based on plan {plan_id}" in listed.output.splitlines()[0]
