"""A small campaign to plan, over the recall test registry, and helpers to run plans in
the harness's transaction (the solver is deterministic enough here: every choice is
forced by hours, distances or blocked dates).

Sites of recall B1 (skill OU-200), planned Mon 2026-11-30 .. Fri 2026-12-04 in Helsinki
time: SA1 and SB1 near Oulu (T1 lives there), SA2 in Helsinki (T2 lives there), SA3 in
Joensuu, too far from both for a day's shift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from devices.importer import import_csv
from devices.models import Site
from recall.models import VisitRequest
from routing.plans import service as plans
from routing.plans.run import run_plan
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import declare, load_recall_registry

MON = date(2026, 11, 30)
FRI = date(2026, 12, 4)
SETTINGS = Settings(plan_default_seconds=2.0)


@dataclass(frozen=True)
class World:
    keys: Keys
    campaign_id: int
    visits: dict[str, int]  # site_key -> visit request id


def load_world_registry(session: Session) -> Keys:
    """The recall test registry plus T2 in Helsinki, committed."""
    keys = load_recall_registry(session)
    import_csv(
        session,
        "technicians",
        b"technician_key,name,home_lat,home_lon,skills\nT2,Toni Tech,60.2,24.9,OU-200\n",
        filename="technicians.csv",
    )
    session.commit()
    return keys


def make_world(client: TestClient, session: Session) -> World:
    keys = load_world_registry(session)
    campaign = declare(client, keys.lead, batch_keys=["B1"])
    visits = {
        key: vid
        for key, vid in session.execute(
            select(Site.site_key, VisitRequest.id)
            .join(Site, Site.id == VisitRequest.site_id)
            .where(VisitRequest.campaign_id == campaign["id"])
        )
    }
    return World(keys, campaign["id"], visits)


def plan_now(
    session: Session,
    sessions: sessionmaker[Session],
    campaign_id: int,
    *,
    first_day: date = MON,
    last_day: date = FRI,
    settings: Settings = SETTINGS,
    seconds: float = 2.0,
) -> int:
    """Start a plan without a job and solve it inline; returns its id."""
    plan = plans.start_plan(
        session,
        campaign_id=campaign_id,
        first_day=first_day,
        last_day=last_day,
        seconds=seconds,
        actor="test",
        settings=settings,
        enqueue=False,
    )
    session.commit()
    run_plan(plan.id, sessions=sessions, settings=settings, heartbeat=False)
    session.expire_all()
    return plan.id


def replan_now(
    session: Session, sessions: sessionmaker[Session], campaign_id: int, *, today: date
) -> int:
    plan = plans.start_replan(
        session,
        campaign_id=campaign_id,
        actor="test",
        settings=SETTINGS,
        today=today,
        seconds=2.0,
        enqueue=False,
    )
    session.commit()
    run_plan(plan.id, sessions=sessions, settings=SETTINGS, heartbeat=False)
    session.expire_all()
    return plan.id
