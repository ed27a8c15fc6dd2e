"""Reading the outbox: filtered pages for the API, and per-partner first-notice times for
the ledger (the 24-hour promise)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from core.errors import NotFound
from recall.outbox_models import OutboxMessage


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
