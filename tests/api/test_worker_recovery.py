"""No job is lost with its worker: a worker killed (SIGKILL) in the middle of a plan or of
a detection run leaves a job that another worker's recovery hands back to the queue, and
the job completes there. Real workers on the test database, everything committed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from api.worker import RECOVER_TASK
from devices.importer import import_csv
from tests.recall.campaigns.fixtures import declare, h, load_recall_registry
from tests.recall.notify.harness import Worker, start_worker, wait_for

SETTINGS = {
    "worker_poll_interval_s": "0.2",
    "worker_heartbeat_interval_s": "0.3",
    "worker_stalled_after_s": "2",
    "worker_recovery_cron": "* * * * * *",
}


@contextmanager
def held(engine: Engine, lock: str) -> Iterator[None]:
    """Hold a table lock in a transaction of its own until the block ends: the job gets
    as far as the table and waits there, so the test can kill it mid-way for sure."""
    conn = engine.connect()
    transaction = conn.begin()
    conn.execute(text(lock))
    try:
        yield
    finally:
        transaction.rollback()
        conn.close()


def waiting_on(engine: Engine, table: str) -> bool:
    """Whether some backend waits for a lock on ``table``."""
    with engine.connect() as conn:
        return bool(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted"
                    " AND relation = CAST(:table AS regclass)"
                ),
                {"table": table},
            )
        )


def job(engine: Engine, task: str) -> tuple[str, int]:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT status::text, attempts FROM procrastinate_jobs WHERE task_name = :t"),
            {"t": task},
        ).one()
    return row[0], row[1]


def kill_mid_job(
    engine: Engine, tmp_path: Path, *, lock: str, table: str, started: Callable[[], bool]
) -> Worker:
    """Start a worker, let it reach ``table`` (held by ``lock``), kill it there, release
    the table, and start a second worker, which is returned."""
    with held(engine, lock):
        first = start_worker(engine, tmp_path / "first.log", SETTINGS)
        try:
            wait_for(
                "the job to start and wait on the held table",
                lambda: started() and waiting_on(engine, table),
                log=first.log,
                deadline_s=300.0,
            )
        finally:
            first.kill()
    return start_worker(engine, tmp_path / "second.log", SETTINGS)


def test_a_plan_whose_worker_dies_is_solved_by_another(committed: Engine, tmp_path: Path) -> None:
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
        campaign = declare(client, keys.lead, batch_keys=["B1"])
        plan_id = client.post(
            f"/api/v1/campaigns/{campaign['id']}/plans",
            json={"first_day": "2026-11-30", "last_day": "2026-12-04", "seconds": 2},
            headers=h(keys.lead),
        ).json()["id"]

        def plan() -> dict:
            return client.get(f"/api/v1/plans/{plan_id}", headers=h(keys.lead)).json()

        # The job claims the plan, solves it, and then waits to store its routes.
        second = kill_mid_job(
            committed,
            tmp_path,
            lock="LOCK TABLE plan_route, plan_stop IN SHARE MODE",
            table="plan_route",
            started=lambda: plan()["status"] == "running",
        )
        try:
            done = wait_for(
                "the plan to be solved by the second worker",
                lambda: (p := plan())["status"] in ("done", "failed") and p,
                log=second.log,
                deadline_s=300.0,
            )
        finally:
            second.stop()
    assert done["status"] == "done", done["error"]
    assert done["stats"]["validator"]["ok"] is True
    assert sorted(r["technician_key"] for r in done["routes"]) == ["T1", "T2"]
    # Handed back once (attempts 1), then finished (Procrastinate counts that too).
    assert job(committed, "routing.plan_campaign") == ("succeeded", 2)


def test_a_detection_run_whose_worker_dies_is_finished_by_another(
    committed: Engine, tmp_path: Path
) -> None:
    with Session(committed) as session:
        keys = load_recall_registry(session)
    with TestClient(create_app()) as client:
        run_id = client.post(
            "/api/v1/detection/runs", json={"as_of": "2025-12-01"}, headers=h(keys.lead)
        ).json()["id"]

        def run() -> dict:
            return client.get(f"/api/v1/detection/runs/{run_id}", headers=h(keys.lead)).json()

        second = kill_mid_job(
            committed,
            tmp_path,
            lock="LOCK TABLE weather_observation IN ACCESS EXCLUSIVE MODE",
            table="weather_observation",
            started=lambda: job(committed, "recall.run_detection")[0] == "doing",
        )
        try:
            done = wait_for(
                "the run to be finished by the second worker",
                lambda: (r := run())["status"] in ("done", "failed") and r,
                log=second.log,
                deadline_s=300.0,
            )
        finally:
            second.stop()
    assert done["status"] == "done", done
    assert done["summary"]["batches_tested"] == 1
    assert job(committed, "recall.run_detection") == ("succeeded", 2)


def test_a_recovery_whose_worker_died_does_not_stop_the_next_ones(
    committed: Engine, tmp_path: Path
) -> None:
    """A worker killed while it ran the recovery itself leaves that job 'doing' (with the
    lock an earlier version gave it): the next recoveries must still hand back the other
    jobs of dead workers."""
    with Session(committed) as session:
        keys = load_recall_registry(session)
    with TestClient(create_app()) as client:
        run_id = client.post(
            "/api/v1/detection/runs", json={"as_of": "2025-12-01"}, headers=h(keys.lead)
        ).json()["id"]
        with committed.begin() as conn:
            dead = conn.scalar(
                text(
                    "INSERT INTO procrastinate_workers (last_heartbeat)"
                    " VALUES (now() - interval '1 hour') RETURNING id"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, args,"
                    " status, worker_id) VALUES ('fieldrecall-short', :task, :lock,"
                    " '{\"timestamp\": 0}', 'doing', :dead)"
                ),
                {"task": RECOVER_TASK, "lock": RECOVER_TASK, "dead": dead},
            )
            conn.execute(
                text(
                    "UPDATE procrastinate_jobs SET status = 'doing', worker_id = :dead"
                    " WHERE task_name = 'recall.run_detection'"
                ),
                {"dead": dead},
            )
        worker = start_worker(committed, tmp_path / "worker.log", SETTINGS)
        try:
            done = wait_for(
                "the dead worker's run to be handed back and finished",
                lambda: (
                    (
                        r := client.get(f"/api/v1/detection/runs/{run_id}", headers=h(keys.lead))
                    ).json()["status"]
                    == "done"
                    and r
                ),
                log=worker.log,
                deadline_s=120.0,
            )
        finally:
            worker.stop()
    assert done.json()["status"] == "done"
    assert job(committed, "recall.run_detection") == ("succeeded", 2)
