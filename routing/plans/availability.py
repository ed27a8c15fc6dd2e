"""Technician absences and site closures: recording them (API, CLI) and reading them for
the planner. Both are "days off" of something with a key (a technician, a site); one set
of functions serves both. Recording a day twice updates its reason; removing one that is
not there is a 404."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.events import record_event
from devices.models import Site, Technician
from routing.plans.models import SiteClosure, TechnicianAbsence

MAX_DAYS = 366


@dataclass(frozen=True)
class _Kind:
    """How one kind of day off is stored and named."""

    model: Any  # TechnicianAbsence or SiteClosure
    owner: str  # the foreign-key column
    owner_model: Any  # Technician or Site
    key: str  # the owner's natural key column
    entity: str  # for events and messages
    noun: str


ABSENCE = _Kind(
    TechnicianAbsence, "technician_id", Technician, "technician_key", "technician", "absence"
)
CLOSURE = _Kind(SiteClosure, "site_id", Site, "site_key", "site", "site closure")


def _days(first_day: date, last_day: date | None) -> list[date]:
    last = last_day or first_day
    if last < first_day:
        raise InvalidInput(f"last_day {last} is before first_day {first_day}")
    if (last - first_day).days >= MAX_DAYS:
        raise InvalidInput(f"at most {MAX_DAYS} days at once")
    return [first_day + timedelta(days=i) for i in range((last - first_day).days + 1)]


def _owner_id(session: Session, kind: _Kind, key: str) -> int:
    owner = kind.owner_model
    found = session.scalar(select(owner.id).where(getattr(owner, kind.key) == key))
    if found is None:
        raise NotFound(f"no {kind.entity} {key!r}")
    return int(found)


def record_days(
    session: Session,
    kind: _Kind,
    *,
    key: str,
    first_day: date,
    last_day: date | None,
    reason: str | None,
    actor: str,
) -> list[Any]:
    """Record ``first_day..last_day`` as days off of the technician or site ``key``."""
    owner_id = _owner_id(session, kind, key)
    days = _days(first_day, last_day)
    stmt = insert(kind.model).values(
        [{kind.owner: owner_id, "day": d, "reason": reason, "created_by": actor} for d in days]
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[kind.owner, "day"], set_={"reason": stmt.excluded.reason}
        )
    )
    record_event(
        session,
        actor=actor,
        entity=kind.entity,
        entity_key=key,
        action=f"{kind.noun.replace(' ', '_')}_recorded",
        reason=reason,
        data={"days": [d.isoformat() for d in days]},
    )
    model = kind.model
    return list(
        session.scalars(
            select(model)
            .where(getattr(model, kind.owner) == owner_id, model.day.in_(days))
            .order_by(model.day)
        )
    )


def _list(
    session: Session, kind: _Kind, first_day: date | None, last_day: date | None
) -> list[tuple[Any, str]]:
    model, owner = kind.model, kind.owner_model
    stmt = select(model, getattr(owner, kind.key)).join(
        owner, owner.id == getattr(model, kind.owner)
    )
    if first_day is not None:
        stmt = stmt.where(model.day >= first_day)
    if last_day is not None:
        stmt = stmt.where(model.day <= last_day)
    rows = session.execute(stmt.order_by(model.day, getattr(owner, kind.key)))
    return [(row, key) for row, key in rows]


def _delete(session: Session, kind: _Kind, row_id: int, actor: str) -> None:
    model = kind.model
    row = session.execute(
        delete(model).where(model.id == row_id).returning(getattr(model, kind.owner), model.day)
    ).first()
    if row is None:
        raise NotFound(f"no {kind.noun} {row_id}")
    record_event(
        session,
        actor=actor,
        entity=kind.entity,
        entity_key=str(row[0]),
        action=f"{kind.noun.replace(' ', '_')}_removed",
        data={"day": row[1].isoformat()},
    )


def _by_owner(
    session: Session, kind: _Kind, owner_ids: Iterable[int], first_day: date, last_day: date
) -> dict[int, frozenset[date]]:
    model = kind.model
    column = getattr(model, kind.owner)
    out: dict[int, set[date]] = {}
    for owner_id, day in session.execute(
        select(column, model.day).where(
            column.in_(list(owner_ids)), model.day.between(first_day, last_day)
        )
    ):
        out.setdefault(owner_id, set()).add(day)
    return {k: frozenset(v) for k, v in out.items()}


def record_absence(
    session: Session,
    *,
    technician_key: str,
    first_day: date,
    last_day: date | None,
    reason: str | None,
    actor: str,
) -> list[TechnicianAbsence]:
    """The technician will not work these days; the next plan or re-plan respects it."""
    return record_days(
        session,
        ABSENCE,
        key=technician_key,
        first_day=first_day,
        last_day=last_day,
        reason=reason,
        actor=actor,
    )


def record_closure(
    session: Session,
    *,
    site_key: str,
    first_day: date,
    last_day: date | None,
    reason: str | None,
    actor: str,
) -> list[SiteClosure]:
    """The site is closed these days (whatever its opening hours say)."""
    return record_days(
        session,
        CLOSURE,
        key=site_key,
        first_day=first_day,
        last_day=last_day,
        reason=reason,
        actor=actor,
    )


def list_absences(
    session: Session, *, first_day: date | None = None, last_day: date | None = None
) -> list[tuple[TechnicianAbsence, str]]:
    return _list(session, ABSENCE, first_day, last_day)


def list_closures(
    session: Session, *, first_day: date | None = None, last_day: date | None = None
) -> list[tuple[SiteClosure, str]]:
    return _list(session, CLOSURE, first_day, last_day)


def delete_absence(session: Session, *, absence_id: int, actor: str) -> None:
    _delete(session, ABSENCE, absence_id, actor)


def delete_closure(session: Session, *, closure_id: int, actor: str) -> None:
    _delete(session, CLOSURE, closure_id, actor)


def absences_by_technician(
    session: Session, technician_ids: Iterable[int], first_day: date, last_day: date
) -> dict[int, frozenset[date]]:
    return _by_owner(session, ABSENCE, technician_ids, first_day, last_day)


def closures_by_site(
    session: Session, site_ids: Iterable[int], first_day: date, last_day: date
) -> dict[int, frozenset[date]]:
    return _by_owner(session, CLOSURE, site_ids, first_day, last_day)
