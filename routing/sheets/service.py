"""Route sheets: one technician's day of a stored plan, with what is to be done at each
stop (asked of recall through its service functions). Every format is rendered from this
one structure (routing/sheet_formats.py), so they cannot disagree with each other or with
the stored plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound
from devices.models import Technician
from recall.field_work import VisitWork, visit_work
from routing.plan_models import FieldPlan, PlanRoute, PlanStop


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
