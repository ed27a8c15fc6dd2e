"""The field-plan API: the support lead's alone (403 for partner and technician keys on
every route), 202 with a queued plan and its job, clear 4xx for bad input that leave
nothing behind, the plan with routes and stops, publishing, absences and closures."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from routing.plans.models import FieldPlan, SiteClosure, TechnicianAbsence
from routing.plans.service import PLAN_TASK
from tests.recall.campaigns.fixtures import h
from tests.routing.plans.planner_world import MON, World, make_world, plan_now

# Every field-plan route; all of them are for the support lead alone.
PLAN_ROUTES = {
    ("POST", "/api/v1/campaigns/{campaign_id}/plans"),
    ("GET", "/api/v1/campaigns/{campaign_id}/plans"),
    ("POST", "/api/v1/campaigns/{campaign_id}/replan"),
    ("GET", "/api/v1/plans/{plan_id}"),
    ("POST", "/api/v1/plans/{plan_id}/publish"),
    ("POST", "/api/v1/absences"),
    ("GET", "/api/v1/absences"),
    ("DELETE", "/api/v1/absences/{absence_id}"),
    ("POST", "/api/v1/site-closures"),
    ("GET", "/api/v1/site-closures"),
    ("DELETE", "/api/v1/site-closures/{closure_id}"),
}


@pytest.fixture
def world(client: TestClient, session: Session) -> World:
    return make_world(client, session)


def test_the_table_covers_every_plan_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    ours = {
        (method.upper(), path)
        for path, ops in paths.items()
        for method in ops
        if path.startswith(("/api/v1/plans", "/api/v1/absences", "/api/v1/site-closures"))
        or path.endswith(("/plans", "/replan"))
    }
    assert ours == PLAN_ROUTES


@pytest.mark.parametrize(("method", "path"), sorted(PLAN_ROUTES))
def test_partners_and_technicians_get_403(
    client: TestClient, world: World, method: str, path: str
) -> None:
    url = (
        path.replace("{campaign_id}", str(world.campaign_id))
        .replace("{plan_id}", "1")
        .replace("{absence_id}", "1")
        .replace("{closure_id}", "1")
    )
    body = {"first_day": str(MON), "last_day": str(MON), "technician_key": "T1"}
    for key in (world.keys.partner_a, world.keys.partner_b, world.keys.technician):
        response = client.request(method, url, json=body, headers=h(key))
        assert response.status_code == 403, (method, url, response.text)
        assert response.json()["error"] == "Forbidden"


def test_start_answers_202_with_a_queued_plan_and_its_job(
    client: TestClient, world: World, session: Session
) -> None:
    url = f"/api/v1/campaigns/{world.campaign_id}/plans"
    body = {"first_day": "2026-11-30", "last_day": "2026-12-04", "seconds": 5}
    response = client.post(url, json=body, headers=h(world.keys.lead))
    assert response.status_code == 202, response.text
    plan = response.json()
    assert (plan["status"], plan["version"], plan["timezone"]) == (
        "queued",
        1,
        "Europe/Helsinki",
    )
    assert plan["created_by"].startswith("support_lead:")
    jobs = session.scalar(
        text(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :task"
            " AND (args ->> 'plan_id')::int = :id AND status = 'todo'"
        ),
        {"task": PLAN_TASK, "id": plan["id"]},
    )
    assert jobs == 1
    again = client.post(url, json=body, headers=h(world.keys.lead)).json()
    assert again["version"] == 2
    listed = client.get(url, headers=h(world.keys.lead)).json()
    assert [p["version"] for p in listed] == [2, 1]
    detail = client.get(f"/api/v1/plans/{plan['id']}", headers=h(world.keys.lead)).json()
    assert (detail["status"], detail["routes"], detail["progress"]) == (
        "queued",
        [],
        {"phase": "queued"},
    )
    # Not solved yet: nothing to publish.
    refused = client.post(f"/api/v1/plans/{plan['id']}/publish", headers=h(world.keys.lead))
    assert refused.status_code == 409 and "queued" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("url", "body", "status", "words"),
    [
        (
            "/campaigns/{c}/plans",
            {"first_day": "2026-12-04", "last_day": "2026-11-30"},
            422,
            "before",
        ),
        (
            "/campaigns/{c}/plans",
            {"first_day": "2026-11-30", "last_day": "2027-11-30"},
            422,
            "at most",
        ),
        (
            "/campaigns/{c}/plans",
            {"first_day": "2026-11-30", "last_day": "2026-12-01", "seconds": 9999},
            422,
            "seconds",
        ),
        ("/campaigns/{c}/plans", {"first_day": "someday", "last_day": "2026-12-01"}, 422, "date"),
        (
            "/campaigns/999999/plans",
            {"first_day": "2026-11-30", "last_day": "2026-12-01"},
            404,
            "campaign",
        ),
        ("/campaigns/{c}/replan", {}, 409, "no published plan"),
        ("/absences", {"technician_key": "NOPE", "first_day": "2026-11-30"}, 404, "NOPE"),
        (
            "/site-closures",
            {"site_key": "SA1", "first_day": "2026-12-02", "last_day": "2026-12-01"},
            422,
            "before",
        ),
    ],
)
def test_bad_input_is_a_clear_4xx_and_leaves_nothing(
    client: TestClient,
    world: World,
    session: Session,
    url: str,
    body: dict,
    status: int,
    words: str,
) -> None:
    response = client.post(
        "/api/v1" + url.replace("{c}", str(world.campaign_id)),
        json=body,
        headers=h(world.keys.lead),
    )
    assert response.status_code == status, response.text
    assert words in str(response.json()["detail"])
    for model in (FieldPlan, TechnicianAbsence, SiteClosure):
        assert session.scalar(select(func.count()).select_from(model)) == 0


def test_unknown_plan_is_404(client: TestClient, world: World) -> None:
    response = client.get("/api/v1/plans/999999", headers=h(world.keys.lead))
    assert response.status_code == 404 and "999999" in response.json()["detail"]


def test_solved_plan_shows_routes_stops_unassigned_and_publishes(
    client: TestClient, world: World, session: Session, sessions: sessionmaker[Session]
) -> None:
    plan_id = plan_now(session, sessions, world.campaign_id)
    lead = h(world.keys.lead)
    detail = client.get(f"/api/v1/plans/{plan_id}", headers=lead).json()
    assert detail["status"] == "done"
    assert detail["stats"]["validator"]["ok"] is True
    assert detail["progress"]["phase"] == "done"
    routes = {
        (r["technician_key"], r["day"]): [s["site_key"] for s in r["stops"]]
        for r in detail["routes"]
    }
    assert sorted(routes) == [("T1", "2026-11-30"), ("T2", "2026-11-30")]
    assert sorted(routes[("T1", "2026-11-30")]) == ["SA1", "SB1"]
    assert [(u["site_key"], u["reason"]) for u in detail["unassigned"]] == [("SA3", "out_of_reach")]
    t1 = next(r for r in detail["routes"] if r["technician_key"] == "T1")
    assert [s["seq"] for s in t1["stops"]] == [1, 2]
    # Where to draw it: T1's home and each stop's site (SA1 65.01 N 25.47 E, SB1 65.02 N
    # 25.50 E); the route's id opens its sheet.
    assert (t1["home_lat"], t1["home_lon"]) == (65.0, 25.4)
    assert sorted((s["site_key"], s["lat"], s["lon"]) for s in t1["stops"]) == [
        ("SA1", 65.01, 25.47),
        ("SB1", 65.02, 25.5),
    ]
    sheet = client.get(f"/api/v1/routes/{t1['route_id']}/sheet", headers=lead).json()
    assert (sheet["technician"]["key"], sheet["day"]) == ("T1", "2026-11-30")
    # The legs to the stops, then home: the total covers at least the legs out.
    assert t1["drive_minutes"] > sum(s["drive_minutes_before"] for s in t1["stops"]) > 0
    assert t1["work_minutes"] == 55 + 35
    published = client.post(f"/api/v1/plans/{plan_id}/publish", headers=lead)
    assert published.status_code == 200, published.text
    assert published.json()["plan"]["status"] == "published"
    assert len(published.json()["new"]) == 3
    visits = client.get(
        f"/api/v1/campaigns/{world.campaign_id}/visits", headers=h(world.keys.partner_b)
    ).json()
    assert [(v["site_key"], v["status"], v["scheduled_date"]) for v in visits] == [
        ("SB1", "scheduled", "2026-11-30")
    ]
    replan = client.post(
        f"/api/v1/campaigns/{world.campaign_id}/replan", json={"today": "2026-11-30"}, headers=lead
    )
    assert replan.status_code == 202, replan.text
    assert replan.json()["based_on_plan_id"] == plan_id
    assert replan.json()["first_day"] == "2026-11-30"  # from today to the plan's end
    assert replan.json()["last_day"] == "2026-12-04"


def test_absences_and_closures_record_list_and_delete(client: TestClient, world: World) -> None:
    lead = h(world.keys.lead)
    made = client.post(
        "/api/v1/absences",
        json={
            "technician_key": "T1",
            "first_day": "2026-12-01",
            "last_day": "2026-12-02",
            "reason": "course",
        },
        headers=lead,
    )
    assert made.status_code == 201, made.text
    assert [a["day"] for a in made.json()] == ["2026-12-01", "2026-12-02"]
    # Recording a day again updates its reason, it does not duplicate it.
    again = client.post(
        "/api/v1/absences",
        json={"technician_key": "T1", "first_day": "2026-12-02", "reason": "flu"},
        headers=lead,
    )
    assert again.json()[0]["id"] == made.json()[1]["id"]
    listed = client.get("/api/v1/absences?from=2026-12-02", headers=lead).json()
    assert [(a["technician_key"], a["day"], a["reason"]) for a in listed] == [
        ("T1", "2026-12-02", "flu")
    ]
    gone = client.delete(f"/api/v1/absences/{made.json()[0]['id']}", headers=lead)
    assert gone.status_code == 204
    assert (
        client.delete(f"/api/v1/absences/{made.json()[0]['id']}", headers=lead).status_code == 404
    )
    closed = client.post(
        "/api/v1/site-closures", json={"site_key": "SB1", "first_day": "2026-12-03"}, headers=lead
    )
    assert closed.status_code == 201
    assert [
        (c["site_key"], c["day"]) for c in client.get("/api/v1/site-closures", headers=lead).json()
    ] == [("SB1", "2026-12-03")]
    closure_id = closed.json()[0]["id"]
    assert client.delete(f"/api/v1/site-closures/{closure_id}", headers=lead).status_code == 204
    assert client.get("/api/v1/site-closures", headers=lead).json() == []
