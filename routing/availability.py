"""Technician absences and site closures: recording them (API, CLI) and reading them for
the planner. Recording a day twice updates its reason; removing one that is not there
is a 404."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.events import record_event
from devices.models import Site, Technician
from routing.availability_models import SiteClosure, TechnicianAbsence

MAX_DAYS = 366


def _days(first_day: date, last_day: date | None) -> list[date]:
    last = last_day or first_day
    if last < first_day:
        raise InvalidInput(f"last_day {last} is before first_day {first_day}")
    if (last - first_day).days >= MAX_DAYS:
        raise InvalidInput(f"at most {MAX_DAYS} days at once")
    return [first_day + timedelta(days=i) for i in range((last - first_day).days + 1)]


def technician_id(session: Session, technician_key: str) -> int:
    tid = session.scalar(select(Technician.id).where(Technician.technician_key == technician_key))
    if tid is None:
        raise NotFound(f"no technician {technician_key!r}")
    return tid


def site_id(session: Session, site_key: str) -> int:
    sid = session.scalar(select(Site.id).where(Site.site_key == site_key))
    if sid is None:
        raise NotFound(f"no site {site_key!r}")
    return sid


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
    tid = technician_id(session, technician_key)
    days = _days(first_day, last_day)
    stmt = insert(TechnicianAbsence).values(
        [{"technician_id": tid, "day": d, "reason": reason, "created_by": actor} for d in days]
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["technician_id", "day"], set_={"reason": stmt.excluded.reason}
        )
    )
    record_event(
        session,
        actor=actor,
        entity="technician",
        entity_key=technician_key,
        action="absence_recorded",
        reason=reason,
        data={"days": [d.isoformat() for d in days]},
    )
    return list(
        session.scalars(
            select(TechnicianAbsence)
            .where(TechnicianAbsence.technician_id == tid, TechnicianAbsence.day.in_(days))
            .order_by(TechnicianAbsence.day)
        )
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
    sid = site_id(session, site_key)
    days = _days(first_day, last_day)
    stmt = insert(SiteClosure).values(
        [{"site_id": sid, "day": d, "reason": reason, "created_by": actor} for d in days]
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["site_id", "day"], set_={"reason": stmt.excluded.reason}
        )
    )
    record_event(
        session,
        actor=actor,
        entity="site",
        entity_key=site_key,
        action="closure_recorded",
        reason=reason,
        data={"days": [d.isoformat() for d in days]},
    )
    return list(
        session.scalars(
            select(SiteClosure)
            .where(SiteClosure.site_id == sid, SiteClosure.day.in_(days))
            .order_by(SiteClosure.day)
        )
    )


def list_absences(
    session: Session, *, first_day: date | None = None, last_day: date | None = None
) -> list[tuple[TechnicianAbsence, str]]:
    stmt = select(TechnicianAbsence, Technician.technician_key).join(
        Technician, Technician.id == TechnicianAbsence.technician_id
    )
    if first_day is not None:
        stmt = stmt.where(TechnicianAbsence.day >= first_day)
    if last_day is not None:
        stmt = stmt.where(TechnicianAbsence.day <= last_day)
    rows = session.execute(stmt.order_by(TechnicianAbsence.day, Technician.technician_key))
    return [(a, key) for a, key in rows]


def list_closures(
    session: Session, *, first_day: date | None = None, last_day: date | None = None
) -> list[tuple[SiteClosure, str]]:
    stmt = select(SiteClosure, Site.site_key).join(Site, Site.id == SiteClosure.site_id)
    if first_day is not None:
        stmt = stmt.where(SiteClosure.day >= first_day)
    if last_day is not None:
        stmt = stmt.where(SiteClosure.day <= last_day)
    rows = session.execute(stmt.order_by(SiteClosure.day, Site.site_key))
    return [(c, key) for c, key in rows]


def delete_absence(session: Session, *, absence_id: int, actor: str) -> None:
    row = session.execute(
        delete(TechnicianAbsence)
        .where(TechnicianAbsence.id == absence_id)
        .returning(TechnicianAbsence.technician_id, TechnicianAbsence.day)
    ).first()
    if row is None:
        raise NotFound(f"no absence {absence_id}")
    record_event(
        session,
        actor=actor,
        entity="technician",
        entity_key=str(row.technician_id),
        action="absence_removed",
        data={"day": row.day.isoformat()},
    )


def delete_closure(session: Session, *, closure_id: int, actor: str) -> None:
    row = session.execute(
        delete(SiteClosure)
        .where(SiteClosure.id == closure_id)
        .returning(SiteClosure.site_id, SiteClosure.day)
    ).first()
    if row is None:
        raise NotFound(f"no site closure {closure_id}")
    record_event(
        session,
        actor=actor,
        entity="site",
        entity_key=str(row.site_id),
        action="closure_removed",
        data={"day": row.day.isoformat()},
    )


def absences_by_technician(
    session: Session, technician_ids: Iterable[int], first_day: date, last_day: date
) -> dict[int, frozenset[date]]:
    out: dict[int, set[date]] = {}
    for tid, day in session.execute(
        select(TechnicianAbsence.technician_id, TechnicianAbsence.day).where(
            TechnicianAbsence.technician_id.in_(list(technician_ids)),
            TechnicianAbsence.day.between(first_day, last_day),
        )
    ):
        out.setdefault(tid, set()).add(day)
    return {k: frozenset(v) for k, v in out.items()}


def closures_by_site(
    session: Session, site_ids: Iterable[int], first_day: date, last_day: date
) -> dict[int, frozenset[date]]:
    out: dict[int, set[date]] = {}
    for sid, day in session.execute(
        select(SiteClosure.site_id, SiteClosure.day).where(
            SiteClosure.site_id.in_(list(site_ids)),
            SiteClosure.day.between(first_day, last_day),
        )
    ):
        out.setdefault(sid, set()).add(day)
    return {k: frozenset(v) for k, v in out.items()}
