"""One delivery attempt's bookkeeping and the sweep's choice, in the harness's rolled-back
transaction: no network is reached (the attempts here fail before sending, or must not
send at all)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.settings import Settings
from devices.models import Partner
from recall.models import OutboxMessage, PartnerWebhook
from recall.notify import delivery as notify_delivery
from recall.notify.delivery import backoff_seconds, deliver_message, requeue_lost
from recall.notify.outbox import DELIVER_TASK, db_now
from recall.notify.transport import sign
from tests.recall.notify.harness import send_notice

NO_SMTP = Settings(smtp_host=None, notify_backoff_base_s=30, notify_max_attempts=3)


@pytest.fixture
def message(session: Session) -> OutboxMessage:
    session.add(Partner(partner_key="PE", name="Email only", contact_email="ops@e.example"))
    session.flush()
    [row] = send_notice(session, "PE", "visit:1:scheduled", data={"visit_on": date(2026, 1, 12)})
    return row


def todo_jobs(session: Session, message_id: int) -> list[tuple[object, object]]:
    rows = session.execute(
        text(
            "SELECT id, scheduled_at FROM procrastinate_jobs WHERE task_name = :task"
            " AND status = 'todo' AND (args ->> 'message_id')::bigint = :id ORDER BY id"
        ),
        {"task": DELIVER_TASK, "id": message_id},
    )
    return [(r.id, r.scheduled_at) for r in rows]


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    waits = [backoff_seconds(n, base_s=30, max_s=300) for n in range(1, 7)]
    assert waits == [30, 60, 120, 240, 300, 300]


def test_the_signature_is_the_hex_hmac_sha256_of_the_raw_body() -> None:
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    assert sign("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_data_is_stored_in_its_json_form(message: OutboxMessage) -> None:
    assert message.data == {"visit_on": "2026-01-12"}


def test_a_failed_attempt_schedules_a_retry_job_at_the_next_attempt_time(
    session: Session, message: OutboxMessage
) -> None:
    assert deliver_message(session, message.id, NO_SMTP) == "retry scheduled"
    session.refresh(message)
    assert (message.status, message.attempts) == ("pending", 1)
    assert message.last_error is not None and "FIELDRECALL_SMTP_HOST" in message.last_error
    assert message.next_attempt_at - db_now(session) >= timedelta(seconds=29)
    [_, (_, scheduled_at)] = todo_jobs(session, message.id)  # the first job, and the retry
    assert scheduled_at == message.next_attempt_at
    # Its retry job, run early by a duplicate, finds it not due and does nothing.
    assert deliver_message(session, message.id, NO_SMTP) == "not due"
    session.refresh(message)
    assert message.attempts == 1


def test_the_last_allowed_failure_makes_a_dead_letter_without_a_new_job(
    session: Session, message: OutboxMessage
) -> None:
    message.attempts = NO_SMTP.notify_max_attempts - 1
    session.flush()
    assert deliver_message(session, message.id, NO_SMTP) == "dead"
    session.refresh(message)
    assert (message.status, message.attempts) == ("dead", NO_SMTP.notify_max_attempts)
    assert len(todo_jobs(session, message.id)) == 1  # only the original one


def test_a_delivered_message_is_never_attempted_again(
    session: Session, message: OutboxMessage
) -> None:
    delivered_at = db_now(session)
    message.status, message.attempts, message.delivered_at = "delivered", 1, delivered_at
    session.flush()
    assert deliver_message(session, message.id, NO_SMTP) == "already delivered"
    session.refresh(message)
    assert (message.attempts, message.last_error) == (1, None)


def test_pending_messages_to_a_removed_webhook_end_dead(session: Session) -> None:
    session.add(Partner(partner_key="PH", name="Hook only"))
    session.flush()
    hook = PartnerWebhook(
        partner_key="PH", url="https://h.example/x", secret="s" * 20, created_by="t"
    )
    session.add(hook)
    session.flush()
    [row] = send_notice(session, "PH", "k-ph")
    removed_at = db_now(session)
    hook.active, hook.deactivated_at = False, removed_at
    session.flush()
    assert deliver_message(session, row.id, NO_SMTP) == "dead"
    session.refresh(row)
    assert row.status == "dead" and "removed" in (row.last_error or "")
    assert row.attempts == 0


def test_the_sweep_requeues_only_due_pending_messages_without_a_queued_job(
    session: Session, message: OutboxMessage
) -> None:
    assert requeue_lost(session) == []  # its job is queued
    # A running job may not have locked the row yet: it is left alone (should its
    # worker die, the worker's recovery hands the job back to the queue).
    session.execute(
        text("UPDATE procrastinate_jobs SET status = 'doing' WHERE task_name = :task"),
        {"task": DELIVER_TASK},
    )
    assert requeue_lost(session) == []
    # The job ended without settling the row (it failed): the row gets a new one.
    session.execute(
        text("UPDATE procrastinate_jobs SET status = 'failed' WHERE task_name = :task"),
        {"task": DELIVER_TASK},
    )
    assert requeue_lost(session) == [message.id]
    assert len(todo_jobs(session, message.id)) == 1
    assert requeue_lost(session) == []  # now it has one again
    session.execute(text("UPDATE procrastinate_jobs SET status = 'failed'"))
    later = db_now(session) + timedelta(hours=1)
    message.next_attempt_at = later
    session.flush()
    assert requeue_lost(session) == []  # not due
    now = db_now(session)
    message.next_attempt_at, message.status = now, "dead"
    session.flush()
    assert requeue_lost(session) == []  # not pending


def test_a_failing_delivery_effect_does_not_undo_the_delivery(
    session: Session, message: OutboxMessage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were the effect's failure to roll the delivery back, the notice would be sent again
    at every sweep. The transport is stubbed: this is about the bookkeeping only."""

    def effect(session: Session, delivered: OutboxMessage) -> int:
        session.execute(
            text("UPDATE outbox_message SET kind = 'half-done' WHERE id = :id"),
            {"id": delivered.id},
        )
        raise RuntimeError("lifecycle refused")

    monkeypatch.setattr(notify_delivery, "send_email", lambda *a, **k: None)
    assert deliver_message(session, message.id, NO_SMTP, on_delivered=effect) == "delivered"
    session.refresh(message)
    assert (message.status, message.attempts, message.kind) == ("delivered", 1, "recall_declared")
    assert message.last_error == "delivered, but its effect failed: RuntimeError: lifecycle refused"
