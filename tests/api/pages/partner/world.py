"""The portal's test world: the planner's small world (recall B1, SA3 out of reach)
planned Monday to Friday of a week to come and published, and a secret link for each
partner. The pages work on the real clock, so the plan lies ahead of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from devices.models import Site
from recall.campaigns import service as campaigns
from recall.campaigns.schemas import CampaignIn, Scope
from recall.models import VisitRequest
from routing.plans import service as plans
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import h
from tests.routing.plans.planner_world import (
    World,
    load_world_registry,
    make_world,
    plan_now,
)


def next_monday() -> date:
    """The first Monday at least two days from now (every day of its week is to come)."""
    today = datetime.now(UTC).date()
    ahead = (7 - today.weekday()) % 7
    return today + timedelta(days=ahead if ahead >= 2 else ahead + 7)


@dataclass(frozen=True)
class PortalWorld:
    world: World
    monday: date
    link_a: str  # "/p/<token>" of partner PA
    link_b: str  # "/p/<token>" of partner PB


def link_of(client: TestClient, key: str) -> str:
    status = client.post("/api/v1/links", headers=h(key)).json()["urls"]["status"]
    return status[status.index("/p/") :].rstrip("/")


def portal_world(
    client: TestClient, session: Session, sessions: sessionmaker[Session]
) -> PortalWorld:
    world = make_world(client, session)
    monday = next_monday()
    plan_id = plan_now(
        session, sessions, world.campaign_id, first_day=monday, last_day=monday + timedelta(days=4)
    )
    plans.publish(session, plan_id=plan_id, actor="lead")
    session.commit()
    return PortalWorld(
        world, monday, link_of(client, world.keys.partner_a), link_of(client, world.keys.partner_b)
    )


@dataclass(frozen=True)
class CommittedWorld:
    """The same world on committed data (a real worker and a live server beside it)."""

    campaign_id: int
    visits: dict[str, int]  # site_key -> visit request id
    keys: Keys
    monday: date


def committed_world(engine: Engine) -> CommittedWorld:
    with Session(engine) as session:
        keys = load_world_registry(session)
        spec = CampaignIn(
            title="OU-200 cold boot",
            scope=Scope(batch_keys=["B1"]),
            remedy="Replace the power board",
            required_skill="OU-200",
        )
        campaign_id = campaigns.declare(session, spec=spec, actor="lead").id
        session.commit()
        monday = next_monday()
        plan_id = plan_now(
            session,
            sessionmaker(engine),
            campaign_id,
            first_day=monday,
            last_day=monday + timedelta(days=4),
        )
        plans.publish(session, plan_id=plan_id, actor="lead")
        session.commit()
        visits = {
            key: vid
            for key, vid in session.execute(
                select(Site.site_key, VisitRequest.id)
                .join(Site, Site.id == VisitRequest.site_id)
                .where(VisitRequest.campaign_id == campaign_id)
            )
        }
    return CommittedWorld(campaign_id, visits, keys, monday)
