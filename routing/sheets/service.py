"""Route sheets: one technician's day of a stored plan, with what is to be done at each
stop (asked of recall through its service functions). Every format is rendered from this
one structure (``formats.py``, and the phone page), so they cannot disagree with each
other or with the stored plan.

The technician's workflow at a stop lives here too: start it, record an outcome per unit,
finish it. Each is safe to repeat; unit states, the ledger and the partner's notice
follow through recall's ``field_work`` in the same transaction. None of it happens
before the stop's day (``days.check_day_has_come``). The same workflow by visit, for the
field app's queue, is ``visits.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound
from devices.models import Technician
from recall.campaigns import field_work
from recall.campaigns.field_work import VisitWork, visit_work
from routing.plans.models import FieldPlan, PlanRoute, PlanStop
from routing.sheets.days import check_day_has_come


@dataclass(frozen=True)
class SheetStop:
    stop_id: int
    seq: int
    status: str
    arrival: datetime
    service_start: datetime
    service_end: datetime
    window_start: datetime
    window_end: datetime
    drive_minutes_before: int
    distance_km_before: float
    work: VisitWork


@dataclass(frozen=True)
class RouteSheet:
    route_id: int
    plan_id: int
    plan_version: int
    plan_status: str
    timezone: str
    day: date
    technician_key: str
    technician_name: str
    home_lat: float
    home_lon: float
    departure: datetime
    return_at: datetime
    break_start: datetime | None
    break_minutes: int
    drive_minutes: int
    distance_km: float
    work_minutes: int
    stops: tuple[SheetStop, ...]


def route_sheet(session: Session, *, route_id: int, technician_id: int | None) -> RouteSheet:
    """The sheet of one route; a technician may read only its own routes of a published
    plan (anything else answers 404)."""
    stmt = (
        select(PlanRoute, FieldPlan, Technician)
        .join(FieldPlan, FieldPlan.id == PlanRoute.plan_id)
        .join(Technician, Technician.id == PlanRoute.technician_id)
        .where(PlanRoute.id == route_id)
    )
    if technician_id is not None:
        stmt = stmt.where(PlanRoute.technician_id == technician_id, FieldPlan.status == "published")
    row = session.execute(stmt).first()
    if row is None:
        raise NotFound(f"no route {route_id}")
    route, plan, technician = row
    stops = session.scalars(
        select(PlanStop).where(PlanStop.route_id == route.id).order_by(PlanStop.seq)
    ).all()
    work = visit_work(session, [s.visit_request_id for s in stops])
    return RouteSheet(
        route_id=route.id,
        plan_id=plan.id,
        plan_version=plan.version,
        plan_status=plan.status,
        timezone=plan.timezone,
        day=route.day,
        technician_key=technician.technician_key,
        technician_name=technician.name,
        home_lat=technician.home_lat,
        home_lon=technician.home_lon,
        departure=route.departure,
        return_at=route.return_at,
        break_start=route.break_start,
        break_minutes=route.break_minutes,
        drive_minutes=route.drive_minutes,
        distance_km=route.distance_km,
        work_minutes=route.work_minutes,
        stops=tuple(
            SheetStop(
                stop_id=s.id,
                seq=s.seq,
                status=s.status,
                arrival=s.arrival,
                service_start=s.service_start,
                service_end=s.service_end,
                window_start=s.window_start,
                window_end=s.window_end,
                drive_minutes_before=s.drive_minutes_before,
                distance_km_before=s.distance_km_before,
                work=work[s.visit_request_id],
            )
            for s in stops
        ),
    )


def published_routes(
    session: Session, *, technician_id: int, day: date | None = None
) -> list[tuple[int, date]]:
    """(route id, day) of a technician's routes in published plans, by day."""
    stmt = (
        select(PlanRoute.id, PlanRoute.day)
        .join(FieldPlan, FieldPlan.id == PlanRoute.plan_id)
        .where(PlanRoute.technician_id == technician_id, FieldPlan.status == "published")
        .order_by(PlanRoute.day, PlanRoute.id)
    )
    if day is not None:
        stmt = stmt.where(PlanRoute.day == day)
    return [(rid, d) for rid, d in session.execute(stmt)]


def stop_for(session: Session, *, stop_id: int, technician_id: int | None) -> PlanStop:
    """A stop of a published plan, locked; a technician reaches only its own (else 404)."""
    stmt = (
        select(PlanStop)
        .join(PlanRoute, PlanRoute.id == PlanStop.route_id)
        .join(FieldPlan, FieldPlan.id == PlanStop.plan_id)
        .where(PlanStop.id == stop_id, FieldPlan.status == "published")
        .with_for_update(of=PlanStop)
    )
    if technician_id is not None:
        stmt = stmt.where(PlanRoute.technician_id == technician_id)
    stop = session.scalar(stmt)
    if stop is None:
        raise NotFound(f"no stop {stop_id} in a published plan")
    return stop


@dataclass(frozen=True)
class StopState:
    """A stop as the workflow reports it: its status and each unit's state."""

    stop_id: int
    visit_id: int
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    units: dict[str, str]  # serial -> state


def stop_state(session: Session, *, stop_id: int, technician_id: int | None) -> StopState:
    stop = stop_for(session, stop_id=stop_id, technician_id=technician_id)
    work = visit_work(session, [stop.visit_request_id])[stop.visit_request_id]
    return StopState(
        stop_id=stop.id,
        visit_id=stop.visit_request_id,
        status=stop.status,
        started_at=stop.started_at,
        finished_at=stop.finished_at,
        units={u.serial: u.state for u in work.units},
    )


def _check_day(session: Session, stop: PlanStop, worked_on: date | None) -> None:
    """Work at a stop waits for its day: the route's day, or ``worked_on`` (the day the
    work was done, when the caller has checked it; see visits.py)."""
    day, zone = session.execute(
        select(PlanRoute.day, FieldPlan.timezone)
        .join(FieldPlan, FieldPlan.id == PlanRoute.plan_id)
        .where(PlanRoute.id == stop.route_id)
    ).one()
    check_day_has_come(worked_on or day, zone, what=f"stop {stop.id}")


def start_stop(
    session: Session,
    *,
    stop_id: int,
    technician_id: int | None,
    actor: str,
    worked_on: date | None = None,
) -> StopState:
    """On site: the stop starts and its units go in progress; starting again does nothing.
    Refused (409) before the stop's day."""
    stop = stop_for(session, stop_id=stop_id, technician_id=technician_id)
    if stop.status == "planned":
        _check_day(session, stop, worked_on)
        field_work.start_visit(session, visit_id=stop.visit_request_id, actor=actor)
        stop.status, stop.started_at = "started", datetime.now(UTC)
        session.flush()
    return stop_state(session, stop_id=stop_id, technician_id=technician_id)


def record_outcome(
    session: Session,
    *,
    stop_id: int,
    serial: str,
    outcome: str,
    note: str | None,
    technician_id: int | None,
    actor: str,
    worked_on: date | None = None,
) -> StopState:
    """One unit's outcome (a planned stop starts first); the same outcome twice changes
    nothing, a different one after an outcome is a 409 saying what is recorded, and so is
    an outcome before the stop's day."""
    stop = stop_for(session, stop_id=stop_id, technician_id=technician_id)
    _check_day(session, stop, worked_on)
    if stop.status == "planned":
        start_stop(
            session, stop_id=stop_id, technician_id=technician_id, actor=actor, worked_on=worked_on
        )
    field_work.record_outcome(
        session,
        visit_id=stop.visit_request_id,
        serial=serial,
        outcome=outcome,
        note=note,
        actor=actor,
    )
    return stop_state(session, stop_id=stop_id, technician_id=technician_id)


def finish_stop(
    session: Session,
    *,
    stop_id: int,
    technician_id: int | None,
    actor: str,
    worked_on: date | None = None,
) -> StopState:
    """Every unit has an outcome: the visit is done and the partner is told."""
    stop = stop_for(session, stop_id=stop_id, technician_id=technician_id)
    if stop.status != "finished":
        _check_day(session, stop, worked_on)
    field_work.finish_visit(session, visit_id=stop.visit_request_id, actor=actor)
    if stop.status != "finished":
        stop.status, stop.finished_at = "finished", datetime.now(UTC)
        stop.started_at = stop.started_at or stop.finished_at
        session.flush()
    return stop_state(session, stop_id=stop_id, technician_id=technician_id)


def technician_site_ids(session: Session, technician_id: int) -> frozenset[int]:
    """The sites of a technician's stops in published (or since superseded) plans: the
    units it may file failure reports on."""
    visit_ids = session.scalars(
        select(PlanStop.visit_request_id)
        .join(PlanRoute, PlanRoute.id == PlanStop.route_id)
        .join(FieldPlan, FieldPlan.id == PlanStop.plan_id)
        .where(
            PlanRoute.technician_id == technician_id,
            FieldPlan.status.in_(("published", "superseded")),
        )
        .distinct()
    ).all()
    return field_work.visit_site_ids(session, list(visit_ids))
