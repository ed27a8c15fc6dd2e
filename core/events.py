"""The append-only audit trail shared by every domain, and the one check every lifecycle
uses before it records a move.

Every state transition writes one row (who, when, what, from, to, why). The database
refuses UPDATE and DELETE on the table (a trigger created by the migration), so the
trail cannot be rewritten by the application either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base
from core.errors import Conflict, InvalidInput


class Event(Base):
    __tablename__ = "event"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    entity: Mapped[str] = mapped_column(String(50), nullable=False)
    entity_key: Mapped[str] = mapped_column(String(200), nullable=False)
    action: Mapped[str] = mapped_column(String(100), nullable=False)
    from_state: Mapped[str | None] = mapped_column(String(50))
    to_state: Mapped[str | None] = mapped_column(String(50))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (Index("ix_event_entity", "entity", "entity_key", "occurred_at"),)


def record_event(
    session: Session,
    *,
    actor: str,
    entity: str,
    entity_key: str,
    action: str,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """Append one event to the trail in the caller's transaction."""
    event = Event(
        actor=actor,
        entity=entity,
        entity_key=entity_key,
        action=action,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        data=data,
    )
    session.add(event)
    session.flush()
    return event


def check_transition(
    table: dict[str, frozenset[str]], what: str, current: str, target: str
) -> bool:
    """True when ``current -> target`` is a real move, False for a no-op (same state);
    a 409 naming the allowed moves otherwise."""
    if target not in table:
        raise InvalidInput(f"unknown state {target!r}")
    if target == current:
        return False
    if target not in table[current]:
        allowed = ", ".join(sorted(table[current])) or "none, it is final"
        raise Conflict(f"{what} is {current}; it cannot become {target} (allowed: {allowed})")
    return True
