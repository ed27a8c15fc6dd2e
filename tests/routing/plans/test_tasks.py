"""A plan started over the API is solved by a real Procrastinate worker (`fieldrecall
worker --once`), with its progress visible through the API while it solves. Everything
is committed for real; the ``committed`` fixture empties the database afterwards."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.app import create_app
from api.cli.main import app as cli
from tests.recall.campaigns.fixtures import declare, h
from tests.recall.notify.harness import wait_for
from tests.routing.plans.planner_world import load_world_registry

SOLVE_S = 3


def test_a_plan_is_solved_by_a_real_worker_with_visible_progress(committed: Engine) -> None:
    with Session(committed) as session:
        keys = load_world_registry(session)
    lead = h(keys.lead)
    with TestClient(create_app()) as client:
        campaign = declare(client, keys.lead, batch_keys=["B1"])
        started = client.post(
            f"/api/v1/campaigns/{campaign['id']}/plans",
            json={"first_day": "2026-11-30", "last_day": "2026-12-04", "seconds": SOLVE_S},
            headers=lead,
        )
        assert started.status_code == 202, started.text
        plan_id = started.json()["id"]
        assert client.get(f"/api/v1/plans/{plan_id}", headers=lead).json()["status"] == "queued"

        outcome: dict[str, object] = {}

        def work() -> None:
            result = CliRunner().invoke(cli, ["worker", "--once"])
            outcome["exit"], outcome["output"] = result.exit_code, result.output

        # Hold the tables the job stores its routes in: the job can then claim, load and
        # solve, but not finish, so a poll cannot miss it running however fast it solves.
        # Reads are not blocked.
        hold = committed.connect()
        held = hold.begin()
        hold.execute(text("LOCK TABLE plan_route, plan_stop IN SHARE MODE"))
        worker = threading.Thread(target=work)
        worker.start()
        try:
            running = wait_for(
                "the plan's progress while it runs",
                lambda: (
                    p
                    if (p := client.get(f"/api/v1/plans/{plan_id}", headers=lead).json())["status"]
                    == "running"
                    and (p["progress"] or {}).get("phase") in ("solving", "storing")
                    else None
                ),
                # Only bounds a failure: a loaded machine starts the worker slowly.
                deadline_s=300.0,
            )
        finally:
            held.rollback()
            hold.close()
            worker.join()
        assert outcome["exit"] == 0, outcome["output"]
        progress = running["progress"]
        assert progress["time_limit_s"] == SOLVE_S and progress["visits"] == 4
        assert progress["technicians"] == 2 and progress["elapsed_s"] >= 0
        assert running["started_at"] is not None and running["finished_at"] is None

        done = client.get(f"/api/v1/plans/{plan_id}", headers=lead).json()
        assert done["status"] == "done", done["error"]
        assert done["stats"]["validator"]["ok"] is True
        assert done["stats"]["served"] == 3 and done["progress"]["phase"] == "done"
        assert sorted(r["technician_key"] for r in done["routes"]) == ["T1", "T2"]
        assert done["finished_at"] is not None
    with committed.connect() as conn:
        jobs = conn.execute(
            text("SELECT args, status FROM procrastinate_jobs WHERE task_name = :t"),
            {"t": "routing.plan_campaign"},
        ).all()
    assert [tuple(j) for j in jobs] == [({"plan_id": plan_id}, "succeeded")]
