"""Every documented filter of every list route, over one small world: each narrows the
list to what it names, an unknown value is a 422 naming it, and so is a query parameter
the route does not take (a misspelt filter must never read as "no filter").

The table is checked against the OpenAPI description, so a new list route or filter
without a case here fails the first test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.models import Batch
from recall.models import DetectionResult, DetectionRun, Signal
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import declare, h, load_recall_registry
from tests.routing.plans.fixtures import publish_by_hand


@dataclass(frozen=True)
class World:
    keys: Keys
    campaign_id: int


def _signal(session: Session) -> None:
    """A signal on B2, as a detection run would leave it."""
    run = DetectionRun(
        status="done",
        as_of="2025-11-30",
        variable="temp_min_c",
        direction="below",
        parameters={},
        created_by="test",
    )
    session.add(run)
    session.flush()
    batch = session.scalars(select(Batch.id).where(Batch.batch_key == "B2")).one()
    result = DetectionResult(run_id=run.id, batch_id=batch, flagged=True, result={})
    session.add(result)
    session.flush()
    session.add(
        Signal(
            batch_id=batch,
            variable="temp_min_c",
            direction="below",
            first_run_id=run.id,
            latest_result_id=result.id,
            status_changed_by="test",
        )
    )
    session.flush()


@pytest.fixture
def world(client: TestClient, session: Session, public_dns: None) -> World:
    keys = load_recall_registry(session)
    lead = h(keys.lead)
    cid = declare(client, keys.lead, batch_keys=["B1"])["id"]
    plan = publish_by_hand(session, cid)  # T1 on 2026-12-03: SA1 (UA1, UA4), SB1 (UB1)
    refused = client.post(
        f"/api/v1/stops/{plan.stops['SA1']}/units/UA4/outcome",
        json={"outcome": "refused"},
        headers=lead,
    )
    assert refused.status_code == 200  # the stop started: UA1 in progress, UA4 refused
    for url, body in (
        ("/api/v1/absences", {"technician_key": "T1", "first_day": "2026-12-07"}),
        ("/api/v1/site-closures", {"site_key": "SA2", "first_day": "2026-12-08"}),
        ("/api/v1/webhooks", {"url": "https://alpha.example/hook", "partner_key": "PA"}),
        ("/api/v1/detection/runs", {}),
        ("/api/v1/detection/runs", {}),
        ("/api/v1/links?partner=PA", None),
    ):
        assert client.post(url, json=body, headers=lead).status_code in (200, 201, 202), url
    report = {"report_key": "RA5", "serial": "UA2", "occurred_at": "2025-12-01T06:30:00+02:00"}
    assert client.post("/api/v1/failures", json=report, headers=h(keys.partner_a)).is_success
    confirm = client.post(f"/api/v1/visits/{plan.visits['SB1']}/confirm", headers=h(keys.partner_b))
    assert confirm.status_code == 200
    _signal(session)
    session.commit()
    return World(keys, cid)


def _items(body: Any) -> list[dict]:
    return body["items"] if isinstance(body, dict) else body


# route -> (the field that names an item, [(query, expected names), ...],
#           [(query with an unknown value, what the 422 must name), ...])
CASES: dict[str, tuple[str, list[tuple[str, set[Any]]], list[tuple[str, str]]]] = {
    "/api/v1/partners": ("partner_key", [("", {"PA", "PB"})], []),
    "/api/v1/batches": ("batch_key", [("", {"B1", "B2"})], []),
    "/api/v1/stations": ("station_key", [("", {"W1"})], []),
    "/api/v1/technicians": ("technician_key", [("", {"T1", "T2"})], []),
    "/api/v1/sites": (
        "site_key",
        [
            ("partner=PA", {"SA1", "SA2", "SA3"}),
            ("bbox=25,64.8,26,65.3", {"SA1", "SB1"}),
            ("near=65.0,25.5&within_km=10", {"SA1", "SB1"}),
        ],
        [
            ("partner=PX", "no partner 'PX'"),
            ("bbox=1,2", "bbox"),
            ("near=65.0,25.5", "within_km"),
            ("near=65,25&within_km=-1", "within_km"),
        ],
    ),
    "/api/v1/units": (
        "serial",
        [("batch=B2", {"UA2"}), ("site=SA1", {"UA1", "UA4"}), ("serial=UB1", {"UB1"})],
        [
            ("batch=BX", "no batch 'BX'"),
            ("site=SX", "no site 'SX'"),
            ("serial=UX", "no serial 'UX'"),
        ],
    ),
    "/api/v1/failures": (
        "report_key",
        [
            ("serial=UA1", {"RA1"}),
            ("batch=B1", {"RA1", "RB1"}),
            ("since=2025-11-04T00:00:00Z", {"RB1", "RA5"}),
            ("until=2025-11-04T00:00:00Z", {"RA1"}),
            ("status=open", {"RA5"}),
            ("status=linked_to_recall", {"RA1", "RB1"}),
            ("status=resolved", set()),
        ],
        [
            ("status=opened", "status"),
            ("serial=UX", "no serial 'UX'"),
            ("batch=BX", "no batch 'BX'"),
            ("since=yesterday", "since"),
        ],
    ),
    "/api/v1/weather": (
        "day",
        [
            ("station=W1", {"2025-11-03", "2025-11-04"}),
            ("since=2025-11-04", {"2025-11-04"}),
            ("until=2025-11-03", {"2025-11-03"}),
        ],
        [("station=WX", "no station 'WX'"), ("until=soon", "until")],
    ),
    # Newest first: the signal's run (done), then the two queued through the API.
    "/api/v1/detection/runs": (
        "status",
        [("limit=1", {"done"}), ("limit=3", {"done", "queued"})],
        [("limit=0", "limit")],
    ),
    "/api/v1/signals": (
        "status",
        [("status=new", {"new"}), ("status=dismissed", set())],
        [("status=bogus", "status")],
    ),
    "/api/v1/campaigns": (
        "status",
        [("status=active", {"active"}), ("status=closed", set())],
        [("status=open", "status")],
    ),
    "/api/v1/campaigns/{campaign_id}/units": (
        "serial",
        [
            ("state=affected", {"UA3", "UA5"}),
            ("state=refused", {"UA4"}),
            ("site=SA1", {"UA1", "UA4"}),
            ("decision_pending=true", {"UA4"}),
            ("decision_pending=false", {"UA1", "UA3", "UA5", "UB1"}),
        ],
        [
            ("state=broken", "state"),
            ("site=SX", "no site 'SX'"),
            ("decision_pending=perhaps", "decision_pending"),
        ],
    ),
    "/api/v1/campaigns/{campaign_id}/visits": (
        "site_key",
        [("status=scheduled", {"SA1", "SB1"}), ("status=requested", {"SA2", "SA3"})],
        [("status=planned", "status")],
    ),
    "/api/v1/campaigns/{campaign_id}/plans": ("status", [("", {"published"})], []),
    "/api/v1/absences": (
        "technician_key",
        [("from=2026-12-07&to=2026-12-07", {"T1"}), ("from=2026-12-08", set())],
        [("from=monday", "from")],
    ),
    "/api/v1/site-closures": (
        "site_key",
        [("from=2026-12-08", {"SA2"}), ("to=2026-12-07", set())],
        [("to=later", "to")],
    ),
    "/api/v1/outbox": (
        "kind",
        [
            ("status=pending&kind=recall_declared", {"recall_declared"}),
            ("status=delivered", set()),
            ("partner=PB&kind=failure_linked", {"failure_linked"}),
            ("topic=nothing:1", set()),
            ("channel=webhook", set()),
            ("idempotency_key=failure:RA1:resolved", set()),
        ],
        [
            ("status=sent", "status"),
            ("channel=sms", "channel"),
            ("kind=hello", "kind"),
            ("partner=PX", "no partner 'PX'"),
        ],
    ),
    "/api/v1/webhooks": (
        "partner_key",
        [("partner=PA", {"PA"}), ("partner=PB", set())],
        [("partner=PX", "no partner 'PX'")],
    ),
    "/api/v1/technicians/me/routes": (
        "day",
        [("day=2026-12-03", {"2026-12-03"}), ("day=2026-12-04", set())],
        [("day=tomorrow", "day")],
    ),
    "/api/v1/links": (
        "owner",
        [("partner=PA", {"partner:PA"}), ("technician=T1", set())],
        [("partner=PX", "no partner 'PX'"), ("technician=TX", "no technician 'TX'")],
    ),
    "/api/v1/inbox": (
        "kind",
        [
            ("kind=visit_confirmed", {"visit_confirmed"}),
            ("partner=PA", {"failure_reported", "unit_refused"}),
            ("unread=false", set()),
            ("campaign={campaign_id}", {"visit_confirmed", "unit_refused"}),
        ],
        [("kind=memo", "kind"), ("campaign=999999", "no campaign 999999")],
    ),
}
PAGINATION = {"limit", "offset"}


def _list_routes(client: TestClient) -> dict[str, set[str]]:
    """GET routes answering a list or a page, with the query parameters they document."""
    out: dict[str, set[str]] = {}
    for path, ops in client.get("/openapi.json").json()["paths"].items():
        get = ops.get("get")
        if get is None or not path.startswith("/api/"):
            continue
        schema = get["responses"].get("200", {}).get("content", {}).get("application/json", {})
        shape = schema.get("schema", {})
        if shape.get("type") == "array" or shape.get("$ref", "").split("/")[-1].startswith("Page"):
            params = {p["name"] for p in get.get("parameters", []) if p["in"] == "query"}
            out[path] = params
    return out


def _filters_in(cases: list[tuple[str, Any]]) -> set[str]:
    return {part.split("=")[0] for query, _ in cases for part in query.split("&") if part}


def test_the_table_covers_every_documented_filter_of_every_list_route(
    client: TestClient,
) -> None:
    routes = _list_routes(client)
    assert set(routes) == set(CASES)
    for path, params in routes.items():
        _, works, unknown = CASES[path]
        documented = params - PAGINATION if path != "/api/v1/detection/runs" else params
        assert _filters_in(works) | _filters_in(unknown) >= documented, path
        assert _filters_in(works) >= documented, path


def _key_for(path: str, keys: Keys) -> str:
    return keys.technician if path.startswith("/api/v1/technicians/me") else keys.lead


@pytest.mark.parametrize("path", sorted(CASES))
def test_each_filter_narrows_the_list_and_an_unknown_value_is_a_422_naming_it(
    client: TestClient, world: World, path: str
) -> None:
    field, works, unknown = CASES[path]
    url = path.format(campaign_id=world.campaign_id)
    headers = h(_key_for(path, world.keys))
    for query, expected in works:
        response = client.get(
            f"{url}?{query.format(campaign_id=world.campaign_id)}", headers=headers
        )
        assert response.status_code == 200, (path, query, response.text)
        assert {str(item[field]) for item in _items(response.json())} == {
            str(e) for e in expected
        }, (path, query)
    for query, named in [*unknown, ("colour=red", "unknown query parameter 'colour'")]:
        response = client.get(f"{url}?{query}", headers=headers)
        assert response.status_code == 422, (path, query, response.text)
        assert named in str(response.json()["detail"]), (path, query, response.json())
