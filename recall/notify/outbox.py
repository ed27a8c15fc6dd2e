"""Writing notices to the outbox, in the transaction of the change that causes them.

A notice to a partner becomes one outbox row per channel: its contact email, if any, and
each of its active webhooks. Each row gets its delivery job deferred in the same
transaction (core.jobs.defer_job), so a rolled-back change leaves neither row nor job.
A partner with no channel at all still gets a row, channel 'none', born dead with the
reason in last_error: the ledger then shows that partner as not reached.

Reading the outbox lives here too: filtered pages for the API, and per partner the first
notice written and delivered on a topic (the 24-hour promise).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound
from core.events import record_event
from core.jobs import SHORT_QUEUE, defer_job
from devices.models import Partner
from recall.models import OutboxMessage, PartnerWebhook

DELIVER_TASK = "recall.notify.deliver"
NO_CHANNEL = "no contact channel: the partner has no contact email and no active webhook"
MAX_KEY_LENGTH = 300


def defer_delivery(session: Session, message_id: int, *, at: datetime | None = None) -> int:
    """Queue the delivery of one outbox row in the caller's transaction."""
    return defer_job(
        session, DELIVER_TASK, {"message_id": message_id}, queue=SHORT_QUEUE, scheduled_at=at
    )


def db_now(session: Session, *, clock: bool = False) -> datetime:
    """The database's clock, the one that workers on many machines and Procrastinate's
    scheduling share: the transaction's start, or with ``clock`` the current instant."""
    now = session.scalar(select(func.clock_timestamp() if clock else func.now()))
    assert now is not None
    return now


def notify_partner(
    session: Session,
    *,
    partner_key: str,
    kind: str,
    subject: str,
    body: str,
    data: dict[str, Any],
    idempotency_key: str,
    topic: str | None = None,
) -> list[OutboxMessage]:
    """Write the partner's notice to the outbox in the caller's transaction (one row per
    channel: email to the partner's contact_email when set, and one per active webhook of
    the partner) and defer its delivery job in the same transaction. Same idempotency_key
    again -> no new rows, returns the existing ones. topic groups messages, e.g.
    "campaign:12" (the ledger uses it)."""
    _check_notice(kind=kind, subject=subject, idempotency_key=idempotency_key)
    existing = _messages_with_key(session, idempotency_key)
    if existing:
        _check_same_partner(existing, partner_key, idempotency_key)
        return existing
    partner = session.scalar(select(Partner).where(Partner.partner_key == partner_key))
    if partner is None:
        raise NotFound(f"no partner {partner_key!r}")
    notice = {
        "idempotency_key": idempotency_key,
        "partner_key": partner_key,
        "topic": topic,
        "kind": kind,
        "subject": subject,
        "body": body,
        # Dates, decimals and the like become their JSON forms once, here, so the
        # stored data is exactly what a webhook receives.
        "data": to_jsonable_python(data),
    }
    rows = [{**notice, **route} for route in _routes(session, partner)]
    if not rows:
        rows = [{**notice, "channel": "none", "destination": "", "status": "dead"}]
        rows[0]["last_error"] = NO_CHANNEL
    _insert_and_defer(session, rows)
    messages = _messages_with_key(session, idempotency_key)
    _check_same_partner(messages, partner_key, idempotency_key)
    return messages


def retry_message(session: Session, *, message_id: int, actor: str) -> list[OutboxMessage]:
    """Give a dead message a new round of attempts; returns the rows now pending.

    A dead 'none' row (the partner had no channel) is retried by sending the notice to
    the channels the partner has now; the 'none' row stays as the record of the miss.
    """
    message = session.scalar(
        select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
    )
    if message is None:
        raise NotFound(f"no outbox message {message_id}")
    if message.status != "dead":
        raise Conflict(
            f"outbox message {message_id} is {message.status}; only dead messages are retried"
        )
    if message.channel == "none":
        retried = _retry_on_current_channels(session, message)
    else:
        _check_webhook_still_active(session, message)
        message.status = "pending"
        message.attempts = 0
        message.next_attempt_at = db_now(session)
        session.flush()
        defer_delivery(session, message.id)
        retried = [message]
    record_event(
        session,
        actor=actor,
        entity="outbox_message",
        entity_key=str(message_id),
        action="retry",
        from_state="dead",
        to_state="pending",
        data={"retried_ids": [m.id for m in retried]},
    )
    return retried


def _check_notice(*, kind: str, subject: str, idempotency_key: str) -> None:
    if not kind.strip():
        raise InvalidInput("a notice needs a kind, e.g. 'recall_declared'")
    if not subject.strip() or "\n" in subject or "\r" in subject:
        raise InvalidInput("a notice's subject is one non-empty line")
    if not idempotency_key.strip() or len(idempotency_key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"an idempotency key is 1 to {MAX_KEY_LENGTH} characters")


def _check_same_partner(
    messages: list[OutboxMessage], partner_key: str, idempotency_key: str
) -> None:
    # A key reused for another partner is a caller's bug: answering with the other
    # partner's rows would report a notice that was never written.
    if any(m.partner_key != partner_key for m in messages):
        raise Conflict(f"idempotency key {idempotency_key!r} was used for another partner")


def _messages_with_key(session: Session, idempotency_key: str) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.idempotency_key == idempotency_key)
            .order_by(OutboxMessage.id)
        )
    )


def _routes(session: Session, partner: Partner) -> list[dict[str, Any]]:
    """Where a notice to this partner goes now: its email, then its active webhooks."""
    routes: list[dict[str, Any]] = []
    email = (partner.contact_email or "").strip()
    if email:
        routes.append({"channel": "email", "destination": email, "webhook_id": None})
    hooks = session.scalars(
        select(PartnerWebhook)
        .where(PartnerWebhook.partner_key == partner.partner_key, PartnerWebhook.active)
        .order_by(PartnerWebhook.id)
    )
    routes.extend(
        {"channel": "webhook", "destination": hook.url, "webhook_id": hook.id} for hook in hooks
    )
    return routes


def _insert_and_defer(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    # ON CONFLICT DO NOTHING: a concurrent transaction writing the same notice waits for
    # this one and then adds nothing, instead of failing on the unique constraint.
    inserted = session.execute(
        insert(OutboxMessage)
        .values(rows)
        .on_conflict_do_nothing(constraint="uq_outbox_message_key_destination")
        .returning(OutboxMessage.id, OutboxMessage.status)
    ).all()
    ids = [row.id for row in inserted if row.status == "pending"]
    for message_id in ids:
        defer_delivery(session, message_id)
    return ids


def _retry_on_current_channels(session: Session, message: OutboxMessage) -> list[OutboxMessage]:
    partner = session.scalar(select(Partner).where(Partner.partner_key == message.partner_key))
    assert partner is not None  # the foreign key guarantees it
    routes = _routes(session, partner)
    if not routes:
        raise Conflict(
            f"partner {partner.partner_key!r} still has no contact email and no active "
            "webhook: add one, then retry"
        )
    notice = {
        "idempotency_key": message.idempotency_key,
        "partner_key": message.partner_key,
        "topic": message.topic,
        "kind": message.kind,
        "subject": message.subject,
        "body": message.body,
        "data": message.data,
    }
    ids = _insert_and_defer(session, [{**notice, **route} for route in routes])
    if not ids:
        raise Conflict(f"outbox message {message.id} was already retried on every channel")
    return list(
        session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
        )
    )


def _check_webhook_still_active(session: Session, message: OutboxMessage) -> None:
    if message.webhook_id is None:
        return
    hook = session.get(PartnerWebhook, message.webhook_id)
    if hook is None or not hook.active:
        raise Conflict(
            f"webhook {message.webhook_id} was removed; the message cannot be retried on it"
        )


def partner_key_scope(session: Session, partner_id: int | None) -> str | None:
    """The partner key a partner's caller is confined to (None: every partner)."""
    if partner_id is None:
        return None
    key = session.scalar(select(Partner.partner_key).where(Partner.id == partner_id))
    if key is None:
        raise NotFound(f"no partner {partner_id}")
    return key


@dataclass(frozen=True)
class MessageFilter:
    status: str | None = None
    partner_key: str | None = None
    topic: str | None = None
    channel: str | None = None
    kind: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class PartnerNotices:
    """How one partner was told about one topic.

    ``first_written_at`` is when the first notice to a real channel was written (the
    state change's commit); ``first_delivered_at`` when a receiver first took one. A
    partner whose notices all had no channel has ``reachable`` False and both times None.
    """

    partner_key: str
    first_written_at: datetime | None
    first_delivered_at: datetime | None
    reachable: bool
    pending: int
    dead: int


def _filtered(query: Select[Any], scope: str | None, f: MessageFilter) -> Select[Any]:
    if scope is not None:
        query = query.where(OutboxMessage.partner_key == scope)
    for column, value in (
        (OutboxMessage.status, f.status),
        (OutboxMessage.partner_key, f.partner_key),
        (OutboxMessage.topic, f.topic),
        (OutboxMessage.channel, f.channel),
        (OutboxMessage.kind, f.kind),
        (OutboxMessage.idempotency_key, f.idempotency_key),
    ):
        if value is not None:
            query = query.where(column == value)
    return query


def list_messages(
    session: Session, *, scope: str | None, filters: MessageFilter, limit: int, offset: int
) -> tuple[list[OutboxMessage], int]:
    """A page of messages, newest first; ``scope`` (a partner key) confines it to one
    partner whatever the filters say."""
    query = _filtered(select(OutboxMessage), scope, filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(OutboxMessage.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), total


def get_message(session: Session, message_id: int, *, scope: str | None) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id)
    if message is None or (scope is not None and message.partner_key != scope):
        raise NotFound(f"no outbox message {message_id}")
    return message


def partner_notices(session: Session, *, topic: str) -> list[PartnerNotices]:
    """Per partner with any message on ``topic``: first notice written and delivered."""
    real = OutboxMessage.channel != "none"
    rows = session.execute(
        select(
            OutboxMessage.partner_key,
            func.min(OutboxMessage.created_at).filter(real),
            func.min(OutboxMessage.delivered_at),
            func.bool_or(real),
            func.count().filter(OutboxMessage.status == "pending"),
            func.count().filter(OutboxMessage.status == "dead"),
        )
        .where(OutboxMessage.topic == topic)
        .group_by(OutboxMessage.partner_key)
        .order_by(OutboxMessage.partner_key)
    ).all()
    return [PartnerNotices(*row) for row in rows]
