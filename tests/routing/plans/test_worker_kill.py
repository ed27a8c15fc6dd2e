"""A worker killed (SIGKILL) in the middle of a territory loses nothing: the territory's
job is left 'doing' by a worker whose heartbeat stopped, another worker's recovery puts
it back in the queue, the territory is solved again (and counted once), and the plan
is joined and stored with every visit accounted for. Real `fieldrecall worker`
processes on committed data; the ``committed`` fixture empties the database after."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from routing.plans.models import FieldPlan, PlanStop, PlanTerritory, PlanUnassigned
from tests.recall.campaigns.fixtures import declare, h
from tests.recall.notify.harness import start_worker, wait_for
from tests.routing.plans.planner_world import load_world_registry

# Two territories (one per technician) of a 12-second plan: about 5 s of search each,
# time enough to kill the worker in the middle of one.
SETTINGS = {
    "plan_territory_visits": "2",
    "worker_poll_interval_s": "0.1",
    "worker_heartbeat_interval_s": "0.3",
    "worker_stalled_after_s": "2",
    "worker_recovery_cron": "* * * * * *",
}


def territories(engine: Engine, plan_id: int) -> list[PlanTerritory]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(PlanTerritory)
                .where(PlanTerritory.plan_id == plan_id)
                .order_by(PlanTerritory.index)
            )
        )


def plan_row(engine: Engine, plan_id: int) -> FieldPlan:
    with Session(engine, expire_on_commit=False) as session:
        plan = session.get_one(FieldPlan, plan_id)
        session.expunge(plan)
        return plan


def test_a_worker_killed_in_a_territory_loses_nothing(committed: Engine, tmp_path: Path) -> None:
    with Session(committed) as session:
        keys = load_world_registry(session)
    with TestClient(create_app()) as client:
        campaign = declare(client, keys.lead, batch_keys=["B1"])
        started = client.post(
            f"/api/v1/campaigns/{campaign['id']}/plans",
            json={"first_day": "2026-11-30", "last_day": "2026-12-04", "seconds": 12},
            headers=h(keys.lead),
        )
        assert started.status_code == 202, started.text
        plan_id = started.json()["id"]

    first = start_worker(committed, tmp_path / "first.log", SETTINGS)
    try:
        running = wait_for(
            "a territory in the middle of its solve",
            lambda: next(
                (t for t in territories(committed, plan_id) if t.attempts and t.status == "queued"),
                None,
            ),
            deadline_s=300.0,
            log=first.log,
        )
    finally:
        first.kill()
    killed = running.index
    assert plan_row(committed, plan_id).status == "running"

    second = start_worker(committed, tmp_path / "second.log", SETTINGS)
    try:
        done = wait_for(
            "the plan to be joined and stored by the second worker",
            lambda: (p := plan_row(committed, plan_id)).status in ("done", "failed") and p,
            deadline_s=300.0,
            log=second.log,
        )
    finally:
        second.stop()
    assert done.status == "done", done.error
    assert done.stats is not None and done.stats["validator"]["ok"] is True
    assert (done.territories, done.territories_done) == (2, 2)
    rows = territories(committed, plan_id)
    assert all(t.status == "done" for t in rows)
    # The killed territory was solved again; the other once.
    assert {t.index: t.attempts for t in rows} == {
        t.index: (2 if t.index == killed else 1) for t in rows
    }
    with Session(committed) as session:
        served = set(
            session.scalars(select(PlanStop.visit_request_id).where(PlanStop.plan_id == plan_id))
        )
        left = set(
            session.scalars(
                select(PlanUnassigned.visit_request_id).where(PlanUnassigned.plan_id == plan_id)
            )
        )
        jobs = session.execute(
            text(
                "SELECT task_name, status::text FROM procrastinate_jobs"
                " WHERE task_name LIKE 'routing.plan%' ORDER BY id"
            )
        ).all()
    assert len(served) == 3 and len(left) == 1 and not served & left
    assert done.stats["visits"] == 4
    # One job each, the killed one retried rather than duplicated, all succeeded.
    assert sorted(jobs) == sorted(
        [
            ("routing.plan_campaign", "succeeded"),
            ("routing.plan_territory", "succeeded"),
            ("routing.plan_territory", "succeeded"),
            ("routing.plan_join", "succeeded"),
        ]
    )
