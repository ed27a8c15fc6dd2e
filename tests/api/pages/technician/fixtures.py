"""Helpers of the field app's tests: the technician's link, a re-plan written by hand (a
new published version that moves visits between technicians or days, as publishing a
re-plan does), and reading what the database holds about a unit."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from devices.models import Technician
from recall.models import VisitRequest
from routing.plans.models import FieldPlan, PlanRoute, PlanStop
from tests.recall.campaigns.fixtures import h
from tests.routing.plans.fixtures import PlanWorld


def link_base(client: TestClient, key: str) -> str:
    """``/t/<token>/`` of a new secret link for the key's technician."""
    made = client.post("/api/v1/links", headers=h(key))
    assert made.status_code == 201, made.text
    url = made.json()["urls"]["sheets"]
    return url[url.index("/t/") :].rstrip("/") + "/"


def replan_by_hand(session: Session, world: PlanWorld, moves: dict[str, tuple[str, date]]) -> int:
    """Publish version 2 of the world's plan: each moved site's visit goes to (technician
    key, day), the others stay on their routes; version 1 is superseded, as a published
    re-plan leaves it. Returns the new plan's id."""
    old = session.get_one(FieldPlan, world.plan_id)
    old.status = "superseded"
    session.flush()
    new = FieldPlan(
        campaign_id=old.campaign_id,
        version=old.version + 1,
        based_on_plan_id=old.id,
        status="published",
        first_day=old.first_day,
        last_day=max([old.last_day, *(d for _, d in moves.values())]),
        timezone=old.timezone,
        parameters={"replan": True},
        stats={},
        created_by="test",
    )
    session.add(new)
    session.flush()
    routes: dict[tuple[int, date], PlanRoute] = {}
    old_stops = session.execute(
        select(PlanStop, PlanRoute)
        .join(PlanRoute, PlanRoute.id == PlanStop.route_id)
        .where(PlanStop.plan_id == old.id)
        .order_by(PlanRoute.id, PlanStop.seq)
    ).all()
    site_of = {visit: site for site, visit in world.visits.items()}
    for stop, route in old_stops:
        site = site_of[stop.visit_request_id]
        technician_id, day = route.technician_id, route.day
        if site in moves:
            key, day = moves[site]
            technician_id = session.scalars(
                select(Technician.id).where(Technician.technician_key == key)
            ).one()
        target = routes.get((technician_id, day))
        if target is None:
            target = PlanRoute(
                plan_id=new.id,
                technician_id=technician_id,
                day=day,
                departure=route.departure,
                return_at=route.return_at,
                drive_minutes=route.drive_minutes,
                distance_km=route.distance_km,
                work_minutes=route.work_minutes,
            )
            session.add(target)
            session.flush()
            routes[(technician_id, day)] = target
        seq = 1 + (session.scalar(select(func.count()).where(PlanStop.route_id == target.id)) or 0)
        shift = day - route.day
        session.add(
            PlanStop(
                route_id=target.id,
                plan_id=new.id,
                visit_request_id=stop.visit_request_id,
                seq=seq,
                arrival=stop.arrival + shift,
                service_start=stop.service_start + shift,
                service_end=stop.service_end + shift,
                window_start=stop.window_start + shift,
                window_end=stop.window_end + shift,
                drive_minutes_before=stop.drive_minutes_before,
                distance_km_before=stop.distance_km_before,
                status=stop.status,
            )
        )
        visit = session.get_one(VisitRequest, stop.visit_request_id)
        visit.technician_id, visit.scheduled_date = technician_id, day
        session.flush()
    session.commit()
    return new.id


def outcome_events(session: Session, serial: str) -> list[str]:
    """The outcomes the audit trail holds for a unit, in order."""
    return list(
        session.scalars(
            text(
                "SELECT to_state FROM event WHERE entity = 'campaign_unit'"
                " AND entity_key LIKE :key AND to_state IN"
                " ('fixed', 'unable_to_access', 'refused', 'not_found') ORDER BY id"
            ),
            {"key": f"%:{serial}"},
        )
    )
