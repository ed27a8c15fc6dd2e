"""A plan larger than the territory size is solved as territories and joined: the same
plan as in one solve for the small campaign of planner_world (each technician's sites
are his territory's), every visit accounted for, the territories recorded and counted."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from devices.models import Technician
from routing.engine import plan_from_dict
from routing.plans import service as plans
from routing.plans.models import FieldPlan, PlanRoute, PlanStop, PlanTerritory
from tests.routing.plans.planner_world import MON, World, make_world, plan_now

# Two visits per territory: the four sites make two territories, one per technician.
SPLIT = Settings(plan_default_seconds=2.0, plan_territory_visits=2)


@pytest.fixture
def world(client: TestClient, session: Session) -> World:
    return make_world(client, session)


def test_a_plan_over_the_territory_size_is_solved_by_territories_and_joined(
    world: World, session: Session, sessions: sessionmaker[Session]
) -> None:
    plan_id = plan_now(session, sessions, world.campaign_id, settings=SPLIT, seconds=4.0)
    row = session.get_one(FieldPlan, plan_id)
    assert row.status == "done", row.error
    assert (row.territories, row.territories_done) == (2, 2)
    assert row.progress is not None and row.progress["territories_done"] == 2
    assert row.stats is not None and row.stats["validator"]["ok"] is True
    assert row.stats["territories"] == 2
    territories = session.scalars(
        select(PlanTerritory).where(PlanTerritory.plan_id == plan_id).order_by(PlanTerritory.index)
    ).all()
    assert [(t.status, t.attempts) for t in territories] == [("done", 1), ("done", 1)]
    # Each territory was handed one technician with the sites near his home (SA3, out
    # of everyone's reach, goes to either), and a share of the time limit.
    key_of = {
        str(i): k for k, i in session.execute(select(Technician.technician_key, Technician.id))
    }
    site_of_id = {str(v): k for k, v in world.visits.items()}
    handed = {
        tuple(key_of[t["id"]] for t in r.problem["technicians"]): {
            site_of_id[v["id"]] for v in r.problem["visits"]
        }
        for r in territories
    }
    assert set(handed) == {("T1",), ("T2",)}
    assert {"SA1", "SB1"} <= handed["T1",] and "SA2" in handed["T2",]
    assert handed["T1",] | handed["T2",] == set(world.visits)
    assert not handed["T1",] & handed["T2",]
    assert all(0 < r.seconds < 4.0 for r in territories)
    solved = [plan_from_dict(r.result or {}) for r in territories]
    assert sum(p.served_count() for p in solved) == 3
    # The joined plan: the same as one solve gives (test_planner), every visit accounted.
    stops = session.execute(
        select(PlanStop.visit_request_id, Technician.technician_key, PlanRoute.day)
        .join(PlanRoute, PlanRoute.id == PlanStop.route_id)
        .join(Technician, Technician.id == PlanRoute.technician_id)
        .where(PlanStop.plan_id == plan_id)
    ).all()
    site_of = {v: k for k, v in world.visits.items()}
    assert {site_of[v]: (t, d) for v, t, d in stops} == {
        "SA1": ("T1", MON),
        "SB1": ("T1", MON),
        "SA2": ("T2", MON),
    }
    detail = plans.plan_detail(session, plan_id=plan_id)
    assert [(u.site_key, u.reason) for u in detail.unassigned] == [("SA3", "out_of_reach")]


def test_a_replan_or_a_small_plan_stays_one_job(
    world: World, session: Session, sessions: sessionmaker[Session]
) -> None:
    plan_id = plan_now(
        session, sessions, world.campaign_id, settings=Settings(plan_territory_visits=4)
    )
    row = session.get_one(FieldPlan, plan_id)
    assert row.status == "done" and row.territories is None
    assert (
        session.scalars(select(PlanTerritory).where(PlanTerritory.plan_id == plan_id)).all() == []
    )
