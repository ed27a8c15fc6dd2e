"""Partner isolation on every recall route: another partner's campaigns, units and visits
answer 404, lists are filtered, and the support lead's routes answer 403."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from devices.models import Site
from recall.models import VisitRequest
from tests.api.pages.technician.test_access import TECHNICIAN_ROUTES
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import campaign_body, declare, h, load_recall_registry
from tests.routing.plans.test_router import PLAN_ROUTES

# Routes a partner may call, each for its own data only. {own}/{foreign} are filled below.
PARTNER_ROUTES = {
    ("GET", "/api/v1/campaigns/{campaign_id}"),
    ("GET", "/api/v1/campaigns/{campaign_id}/ledger"),
    ("GET", "/api/v1/campaigns/{campaign_id}/units"),
    ("GET", "/api/v1/campaigns/{campaign_id}/units/{serial}"),
    ("GET", "/api/v1/campaigns/{campaign_id}/visits"),
    ("GET", "/api/v1/visits/{visit_id}"),
    ("POST", "/api/v1/visits/{visit_id}/confirm"),
    ("POST", "/api/v1/visits/{visit_id}/reschedule"),
}
# Routes for the support lead alone.
LEAD_ONLY = {
    ("POST", "/api/v1/campaigns"),
    ("POST", "/api/v1/campaigns/dry-run"),
    ("POST", "/api/v1/campaigns/{campaign_id}/reevaluate"),
    ("POST", "/api/v1/campaigns/{campaign_id}/close"),
    ("POST", "/api/v1/campaigns/{campaign_id}/units/{serial}/state"),
    ("POST", "/api/v1/failures/{report_key}/status"),
}


@pytest.fixture
def world(client: TestClient, session: Session) -> dict:
    keys = load_recall_registry(session)
    shared = declare(client, keys.lead, batch_keys=["B1"])  # PA and PB
    only_a = declare(client, keys.lead, batch_keys=["B2"])  # PA alone (UA2)

    def visit(campaign: dict, site_key: str) -> int:
        return session.scalars(
            select(VisitRequest.id)
            .join(Site, Site.id == VisitRequest.site_id)
            .where(VisitRequest.campaign_id == campaign["id"], Site.site_key == site_key)
        ).one()

    return {
        "keys": keys,
        "shared": shared["id"],
        "only_a": only_a["id"],
        "visit_a": visit(shared, "SA1"),
        "visit_b": visit(shared, "SB1"),
    }


def test_the_route_tables_cover_every_recall_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    recall_routes = {
        (method.upper(), path)
        for path, ops in paths.items()
        for method in ops
        if path.startswith(("/api/v1/campaigns", "/api/v1/visits"))
        or (path.endswith("/status") and path.startswith("/api/v1/failures"))
    }
    recall_routes.add(("GET", "/api/v1/campaigns"))  # a list, checked below
    recall_routes -= PLAN_ROUTES  # field plans under a campaign: tests/routing/plans/test_router.py
    # A technician's work at a visit: tests/api/pages/technician/test_access.py.
    recall_routes -= TECHNICIAN_ROUTES
    assert recall_routes == PARTNER_ROUTES | LEAD_ONLY | {("GET", "/api/v1/campaigns")}


def urls(world: dict, owner: str) -> list[tuple[str, str, dict | None]]:
    """Every partner route with partner A's ids (owner 'a') or with ids B may use ('b')."""
    campaign = world["only_a"] if owner == "a" else world["shared"]
    serial = "UA2" if owner == "a" else "UB1"
    visit = world["visit_a"] if owner == "a" else world["visit_b"]
    reschedule = {"blocked_dates": ["2026-12-24"]}
    return [
        ("GET", f"/api/v1/campaigns/{campaign}", None),
        ("GET", f"/api/v1/campaigns/{campaign}/ledger", None),
        ("GET", f"/api/v1/campaigns/{campaign}/units", None),
        (
            "GET",
            f"/api/v1/campaigns/{world['shared']}/units/{'UA1' if owner == 'a' else serial}",
            None,
        ),
        ("GET", f"/api/v1/campaigns/{campaign}/visits", None),
        ("GET", f"/api/v1/visits/{visit}", None),
        ("POST", f"/api/v1/visits/{visit}/reschedule", reschedule),
    ]


def recall_state(session: Session) -> tuple:
    """Everything a partner's request could change: visits, unit states, failure reports,
    the outbox and the audit trail."""
    dump = {
        "visits": "SELECT id, status, blocked_dates, preferred_windows, partner_note,"
        " partner_confirmed_at, updated_at FROM visit_request ORDER BY id",
        "units": "SELECT id, state, state_changed_at FROM campaign_unit ORDER BY id",
        "reports": "SELECT id, status FROM failure_report ORDER BY id",
        "outbox": "SELECT count(*) FROM outbox_message",
        "events": "SELECT count(*) FROM event",
    }
    return tuple(tuple(session.execute(text(sql)).all()) for sql in dump.values())


def test_another_partners_ids_answer_404_and_change_nothing(
    client: TestClient, world: dict, session: Session
) -> None:
    keys: Keys = world["keys"]
    confirm = ("POST", f"/api/v1/visits/{world['visit_a']}/confirm", None)
    for method, url, body in [*urls(world, "a"), confirm]:
        before = recall_state(session)
        response = client.request(method, url, json=body, headers=h(keys.partner_b))
        assert response.status_code == 404, (method, url, response.text)
        assert recall_state(session) == before, (method, url)
        # The same request with the owner's key is served (a visit still requested cannot
        # be confirmed: 409, which is not a 404).
        own = client.request(method, url, json=body, headers=h(keys.partner_a))
        assert own.status_code == (409 if (method, url, body) == confirm else 200), own.text
    for method, url, body in urls(world, "b"):
        response = client.request(method, url, json=body, headers=h(keys.partner_b))
        assert response.status_code == 200, (method, url, response.text)


def test_lists_and_counts_show_only_the_partners_own(client: TestClient, world: dict) -> None:
    keys: Keys = world["keys"]
    mine = client.get("/api/v1/campaigns", headers=h(keys.partner_b)).json()
    assert [(c["id"], c["unit_count"], c["site_count"]) for c in mine] == [(world["shared"], 1, 1)]
    units = client.get(f"/api/v1/campaigns/{world['shared']}/units", headers=h(keys.partner_b))
    assert [u["serial"] for u in units.json()["items"]] == ["UB1"]
    visits = client.get(f"/api/v1/campaigns/{world['shared']}/visits", headers=h(keys.partner_b))
    assert [v["site_key"] for v in visits.json()] == ["SB1"]
    everything = client.get("/api/v1/campaigns", headers=h(keys.lead)).json()
    assert {c["id"] for c in everything} == {world["shared"], world["only_a"]}


@pytest.mark.parametrize(("method", "path"), sorted(LEAD_ONLY))
def test_lead_only_routes_refuse_partners_and_technicians(
    client: TestClient, world: dict, method: str, path: str
) -> None:
    keys: Keys = world["keys"]
    url = (
        path.replace("{campaign_id}", str(world["shared"]))
        .replace("{serial}", "UB1")
        .replace("{report_key}", "RB1")
    )
    body = campaign_body() if path.startswith("/api/v1/campaigns") else {"state": "notified"}
    if path.endswith("/failures/{report_key}/status"):
        body = {"status": "triaged"}
    for key in (keys.partner_b, keys.technician):
        response = client.request(method, url, json=body, headers=h(key))
        assert response.status_code == 403, (method, url, response.text)


def test_technicians_do_not_read_partner_routes_yet(client: TestClient, world: dict) -> None:
    keys: Keys = world["keys"]
    for method, url, body in urls(world, "b"):
        assert client.request(method, url, json=body, headers=h(keys.technician)).status_code == 403
