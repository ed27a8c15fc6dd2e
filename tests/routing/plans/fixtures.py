"""A published field plan written by hand over the recall test registry, so that route
sheets and the technician workflow are tested apart from the planner.

Technician T1 on 2026-12-03 (Europe/Helsinki): home -> SA1 (UA1, UA4) -> SB1 (UB1) -> home.
Technician T2 has no route.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.keys import create_key
from devices.importer import import_csv
from devices.models import Site, Technician
from recall.campaigns.lifecycle import move_units
from recall.models import Campaign, VisitRequest
from routing.plans.models import FieldPlan, PlanRoute, PlanStop

DAY = date(2026, 12, 3)


def at(hour: int, minute: int = 0) -> datetime:
    """A time on DAY in Helsinki (UTC+2 in December), as an aware UTC datetime."""
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=UTC) - timedelta(hours=2)


@dataclass(frozen=True)
class PlanWorld:
    plan_id: int
    route_id: int
    stops: dict[str, int]  # site_key -> stop id
    visits: dict[str, int]  # site_key -> visit id
    other_technician: str  # API key of T2


def publish_by_hand(session: Session, campaign_id: int, *, published: bool = True) -> PlanWorld:
    import_csv(
        session,
        "technicians",
        b"technician_key,name,home_lat,home_lon,skills\nT2,Toni Tech,60.2,24.9,OU-200\n",
        filename="technicians.csv",
    )
    campaign = session.get_one(Campaign, campaign_id)
    t1 = session.scalars(select(Technician.id).where(Technician.technician_key == "T1")).one()
    plan = FieldPlan(
        campaign_id=campaign_id,
        version=1,
        status="published" if published else "done",
        first_day=DAY,
        last_day=DAY,
        timezone="Europe/Helsinki",
        parameters={},
        stats={"drive_minutes": 50},
        created_by="test",
    )
    session.add(plan)
    session.flush()
    route = PlanRoute(
        plan_id=plan.id,
        technician_id=t1,
        day=DAY,
        departure=at(8),
        return_at=at(13, 10),
        break_start=at(11, 15),
        break_minutes=30,
        drive_minutes=50,
        distance_km=61.5,
        work_minutes=310,
    )
    session.add(route)
    session.flush()
    timetable = [
        ("SA1", at(8, 20), at(8, 30), at(9, 25), 20, 24.0),
        ("SB1", at(9, 40), at(9, 40), at(10, 15), 15, 18.5),
    ]
    stops, visits = {}, {}
    for seq, (site_key, arrival, start, end, drive, km) in enumerate(timetable, start=1):
        visit = session.scalars(
            select(VisitRequest)
            .join(Site, Site.id == VisitRequest.site_id)
            .where(VisitRequest.campaign_id == campaign_id, Site.site_key == site_key)
        ).one()
        visit.status, visit.scheduled_date, visit.technician_id = "scheduled", DAY, t1
        visit.window_start, visit.window_end = at(8), at(10)
        stop = PlanStop(
            route_id=route.id,
            plan_id=plan.id,
            visit_request_id=visit.id,
            seq=seq,
            arrival=arrival,
            service_start=start,
            service_end=end,
            window_start=at(8),
            window_end=at(10),
            drive_minutes_before=drive,
            distance_km_before=km,
        )
        session.add(stop)
        session.flush()
        for states, target in ((("affected",), "notified"), (("notified",), "scheduled")):
            move_units(
                session,
                campaign=campaign,
                site_id=visit.site_id,
                partner_id=None,
                from_states=states,
                to_state=target,
                actor="test",
                reason="published by hand",
            )
        stops[site_key], visits[site_key] = stop.id, visit.id
    other = create_key(session, role="technician", technician_key="T2")
    session.commit()
    return PlanWorld(plan.id, route.id, stops, visits, other)
