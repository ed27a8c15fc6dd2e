"""A worker killed (SIGKILL) in the middle of a delivery loses nothing: the notice waits
while no worker runs, the killed attempt's row lock dies with its connection, a new
worker's sweep sends the notice again with the same idempotency key, and the receiver,
deduplicating on that key, applies it once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from recall.notify.outbox import DELIVER_TASK
from tests.recall.notify.harness import (
    WebhookReceiver,
    add_partner,
    delete_jobs,
    delete_test_rows,
    message_of,
    send_notice,
    serve_webhooks,
    start_worker,
    wait_for,
)

SECRET = "the-partner-s-webhook-secret"
SETTINGS = {
    "notify_sweep_cron": "* * * * * *",
    "webhook_timeout_s": "60",  # the first attempt hangs until the kill
    "worker_poll_interval_s": "0.1",
    "worker_heartbeat_interval_s": "0.3",
    "worker_stalled_after_s": "2",
}


@pytest.fixture
def committed(engine: Engine) -> Iterator[None]:
    yield
    delete_test_rows(engine)
    delete_jobs(engine)


def job_states(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.scalars(
                text(
                    "SELECT status::text FROM procrastinate_jobs WHERE task_name = :t ORDER BY id"
                ),
                {"t": DELIVER_TASK},
            )
        )


def row_is_locked(engine: Engine, message_id: int) -> bool:
    with engine.connect() as conn:
        try:
            conn.execute(
                text("SELECT id FROM outbox_message WHERE id = :id FOR UPDATE NOWAIT"),
                {"id": message_id},
            )
        except OperationalError:
            return True
        finally:
            conn.rollback()
    return False


def test_a_worker_killed_mid_delivery_loses_nothing(
    engine: Engine, committed: None, tmp_path: Path
) -> None:
    receiver = WebhookReceiver(hang_first=True)
    with serve_webhooks(receiver) as url:
        add_partner(engine, "PK", webhook=(url, SECRET))
        with Session(engine, expire_on_commit=False) as session, session.begin():
            [row] = send_notice(session, "PK", "campaign:12:declared:PK")
        # No worker yet: the notice waits in the outbox.
        assert message_of(engine, "PK").status == "pending"

        first = start_worker(engine, tmp_path / "first.log", SETTINGS)
        try:
            wait_for("the first attempt to reach the receiver", lambda: receiver.deliveries)
            # Mid-delivery: the attempt holds the row, its job is running.
            assert row_is_locked(engine, row.id)
            assert job_states(engine) == ["doing"]
        finally:
            first.kill()

        second = start_worker(engine, tmp_path / "second.log", SETTINGS)
        try:
            delivered = wait_for(
                "the notice to be delivered by the second worker",
                lambda: (m := message_of(engine, "PK")).status == "delivered" and m,
                log=second.log,
            )
            # Procrastinate's stalled-job recipe frees the killed worker's job too; it
            # then finds the row delivered and sends nothing.
            wait_for(
                "no delivery job left running",
                lambda: "doing" not in job_states(engine),
                log=second.log,
            )
        finally:
            second.stop()

    assert delivered.attempts == 1  # the killed attempt never finished
    assert len(receiver.deliveries) == 2
    assert {d.key for d in receiver.deliveries} == {"campaign:12:declared:PK"}
    assert receiver.deliveries[0].body == receiver.deliveries[1].body
    assert all(d.signed_with(SECRET) for d in receiver.deliveries)
    assert receiver.effects == {"campaign:12:declared:PK": row.id}  # one effect
    assert set(job_states(engine)) == {"succeeded"}
