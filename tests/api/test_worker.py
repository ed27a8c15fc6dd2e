"""The worker survives the database: PostgreSQL restarted under a running worker (on a
cluster of the test's own), the worker keeps running and delivers what is written after
the restart; a database that stays away makes it exit with a non-zero code."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests.recall.notify.harness import (
    add_partner,
    message_of,
    send_notice,
    smtp_server,
    start_worker,
    wait_for,
)
from tests.throwaway_cluster import Cluster, throwaway_cluster

SETTINGS = {
    "worker_poll_interval_s": "0.2",
    "worker_heartbeat_interval_s": "0.5",
    "worker_stalled_after_s": "3",
    "worker_recovery_cron": "* * * * * *",
    "worker_reconnect_delay_s": "0.5",
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with throwaway_cluster() as made:
        yield made


@pytest.fixture
def own_engine(cluster: Cluster) -> Iterator[Engine]:
    engine = create_engine(cluster.url, pool_pre_ping=True)
    yield engine
    engine.dispose()


def workers(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT count(*) FROM procrastinate_workers")) or 0)


def notify(engine: Engine, partner_key: str, key: str) -> None:
    with Session(engine) as session, session.begin():
        send_notice(session, partner_key, key)


def test_a_worker_resumes_after_postgresql_restarts(
    cluster: Cluster, own_engine: Engine, tmp_path: Path
) -> None:
    with smtp_server() as (sink, port):
        add_partner(own_engine, "PR1", email="ops@r1.example")
        add_partner(own_engine, "PR2", email="ops@r2.example")
        worker = start_worker(
            own_engine,
            tmp_path / "worker.log",
            {**SETTINGS, "smtp_host": "127.0.0.1", "smtp_port": str(port)},
        )
        try:
            notify(own_engine, "PR1", "before-restart")
            wait_for(
                "the notice before the restart",
                lambda: message_of(own_engine, "PR1").status == "delivered",
                log=worker.log,
            )
            cluster.restart()
            own_engine.dispose()
            notify(own_engine, "PR2", "after-restart")
            wait_for(
                "the notice written after the restart",
                lambda: message_of(own_engine, "PR2").status == "delivered",
                log=worker.log,
            )
            assert worker.process.poll() is None, worker.log.read_text()
        finally:
            worker.stop()
    assert sorted(e.rcpt_tos[0] for e in sink.envelopes) == ["ops@r1.example", "ops@r2.example"]
    assert worker.process.returncode == 0  # stopped by SIGTERM, cleanly


def test_a_worker_exits_non_zero_when_the_database_stays_away(
    cluster: Cluster, own_engine: Engine, tmp_path: Path
) -> None:
    worker = start_worker(
        own_engine, tmp_path / "worker.log", {**SETTINGS, "worker_reconnect_max_s": "3"}
    )
    stopped = False
    try:
        wait_for("the worker to register", lambda: workers(own_engine), log=worker.log)
        own_engine.dispose()
        cluster.stop()
        stopped = True
        try:
            code = worker.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail("the worker kept running without its database\n" + worker.log.read_text())
    finally:
        worker.stop()
        if stopped:
            cluster.start()
    assert code == 1, worker.log.read_text()[-3000:]
