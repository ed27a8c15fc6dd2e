"""Delivering outbox rows: one attempt per job, retries with exponential backoff, dead
letters, and the sweep that re-queues messages whose job was lost.

Attempts run side by side (the worker's short queue), at most ``notify_per_partner`` at a
time for one partner, so a partner whose receiver hangs holds back only its own notices.

Delivery is at least once. The attempt holds the row's lock (FOR UPDATE SKIP LOCKED)
from before the send until its outcome commits, so two jobs for the same row never send
at the same time and a delivered row is never sent again. The one duplicate left is a
worker that dies after the receiver took the notice but before the commit: the row is
still pending and goes out again with the same idempotency key, for the receiver to drop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.settings import Settings
from recall.models import OutboxMessage, PartnerWebhook
from recall.notify.outbox import DELIVER_TASK, db_now, defer_delivery
from recall.notify.targets import parse_networks
from recall.notify.transport import DeliveryFailed, Notice, post_webhook, send_email

log = logging.getLogger("fieldrecall.notify")
# What a delivered notice changes in the domain that wrote it (handed in by the task that
# composes the sub-domains); the outbox itself knows no campaign.
DeliveryEffect = Callable[[Session, OutboxMessage], object]


def backoff_seconds(failed_attempts: int, *, base_s: float, max_s: float) -> float:
    """Wait before the next attempt after ``failed_attempts`` failures: base * 2**(n-1)."""
    return min(max_s, base_s * 2 ** max(0, failed_attempts - 1))


def deliver_message(
    session: Session,
    message_id: int,
    settings: Settings,
    *,
    on_delivered: DeliveryEffect | None = None,
) -> str:
    """One delivery attempt of one row, in the caller's transaction; returns what happened.
    ``on_delivered`` applies the notice's effect in the same transaction once it is out.

    The row lock is held across the send: the caller commits right after, and a killed
    worker's lock dies with its connection, leaving the row pending for the sweep.
    """
    message = session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .with_for_update(skip_locked=True)
    )
    if message is None:
        return "locked or gone"  # another job holds it: that job reports the outcome
    if message.status != "pending":
        return f"already {message.status}"
    now = db_now(session)
    if message.next_attempt_at > now:
        return "not due"  # a retry is scheduled; its own job will come
    if not _partner_slot(session, message.partner_key, settings.notify_per_partner):
        # The partner's receivers already take all its slots: come back shortly rather
        # than hold one of the worker's slots, which other partners' notices need.
        later = db_now(session, clock=True) + timedelta(
            seconds=settings.notify_partner_busy_delay_s
        )
        defer_delivery(session, message.id, at=later)
        return "partner busy, deferred"
    outcome = _attempt(session, message, settings, on_delivered)
    session.flush()
    return outcome


def _partner_slot(session: Session, partner_key: str, slots: int) -> bool:
    """Take one of the partner's ``slots`` delivery slots for this transaction (an
    advisory lock shared by every worker on the database); False when all are taken."""
    for slot in range(slots):
        taken = session.scalar(
            text("SELECT pg_try_advisory_xact_lock(hashtext(:name), :slot)"),
            {"name": f"fieldrecall.notify.partner:{partner_key}", "slot": slot},
        )
        if taken:
            return True
    return False


def _attempt(
    session: Session,
    message: OutboxMessage,
    settings: Settings,
    on_delivered: DeliveryEffect | None,
) -> str:
    try:
        _send(session, message, settings)
    except _Undeliverable as exc:
        message.status = "dead"
        message.last_error = str(exc)
        return "dead"
    except DeliveryFailed as exc:
        return _record_failure(session, message, str(exc), settings)
    delivered_at = db_now(session, clock=True)
    message.attempts += 1
    message.status = "delivered"
    message.delivered_at = delivered_at
    if on_delivered is not None:
        _apply_effect(session, message, on_delivered)
    return "delivered"


def _apply_effect(session: Session, message: OutboxMessage, effect: DeliveryEffect) -> None:
    """The delivered notice's effect on the domain, in the delivery's transaction.

    It runs in a savepoint: were its failure to undo the delivery record, the notice
    would go out again at every sweep, for ever. A failed effect is logged and kept in
    last_error instead; the delivery stands.
    """
    try:
        with session.begin_nested():
            effect(session, message)
    except Exception as exc:
        log.exception("outbox message %s: its delivery effect failed", message.id)
        message.last_error = f"delivered, but its effect failed: {type(exc).__name__}: {exc}"


class _Undeliverable(Exception):
    """Nothing to attempt any more (the partner removed the webhook)."""


def _send(session: Session, message: OutboxMessage, settings: Settings) -> None:
    notice = Notice(
        message_id=message.id,
        idempotency_key=message.idempotency_key,
        partner_key=message.partner_key,
        kind=message.kind,
        topic=message.topic,
        subject=message.subject,
        body=message.body,
        data=message.data,
        created_at=message.created_at,
    )
    if message.channel == "email":
        send_email(notice, to=message.destination, settings=settings)
    elif message.channel == "webhook":
        hook = session.get(PartnerWebhook, message.webhook_id)
        if hook is None or not hook.active:
            raise _Undeliverable(f"webhook {message.webhook_id} was removed by the partner")
        post_webhook(
            notice,
            url=message.destination,
            secret=hook.secret,
            timeout_s=settings.webhook_timeout_s,
            allow=parse_networks(settings.webhook_allow_networks),
        )
    else:
        raise _Undeliverable(f"channel {message.channel!r} has nothing to deliver to")


def _record_failure(
    session: Session, message: OutboxMessage, error: str, settings: Settings
) -> str:
    now = db_now(session, clock=True)
    message.attempts += 1
    message.last_error = error
    if message.attempts >= settings.notify_max_attempts:
        message.status = "dead"
        log.warning(
            "outbox message %s is dead after %s attempts: %s", message.id, message.attempts, error
        )
        return "dead"
    wait = backoff_seconds(
        message.attempts, base_s=settings.notify_backoff_base_s, max_s=settings.notify_backoff_max_s
    )
    message.next_attempt_at = now + timedelta(seconds=wait)
    session.flush()
    defer_delivery(session, message.id, at=message.next_attempt_at)
    return "retry scheduled"


def requeue_lost(session: Session, *, limit: int = 500) -> list[int]:
    """Defer a job for every due pending message that has no job queued or running and
    that no live attempt holds (its row lock): what a failed or lost job left behind. A
    job still marked running whose worker died is the recovery's (api.worker): it goes
    back to the queue, and this sweep need not race a live job that has not yet locked
    its row."""
    ids = list(
        session.scalars(
            text(
                """
                SELECT m.id FROM outbox_message m
                 WHERE m.status = 'pending' AND m.next_attempt_at <= now()
                   AND NOT EXISTS (
                       SELECT 1 FROM procrastinate_jobs j
                        WHERE j.task_name = :task AND j.status IN ('todo', 'doing')
                          AND j.args ->> 'message_id' = m.id::text)
                 ORDER BY m.next_attempt_at
                 LIMIT :limit
                 FOR UPDATE OF m SKIP LOCKED
                """
            ),
            {"task": DELIVER_TASK, "limit": limit},
        )
    )
    for message_id in ids:
        defer_delivery(session, message_id)
    if ids:
        log.info("re-queued %s outbox message(s) without a job: %s", len(ids), ids)
    return ids
