"""The registry API: keys on every route, partner isolation on every route, filters,
GeoJSON, failure posting and CSV upload."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.settings import get_settings
from tests.api.pages.technician.test_access import TECHNICIAN_ROUTES
from tests.fixtures import REGISTRY_TABLES, Keys, load_registry, row_counts
from tests.recall.campaigns.test_isolation import LEAD_ONLY as RECALL_LEAD_ONLY
from tests.recall.campaigns.test_isolation import PARTNER_ROUTES as RECALL_PARTNER_ROUTES
from tests.routing.plans.test_router import PLAN_ROUTES


@pytest.fixture
def keys(session: Session) -> Keys:
    keys = load_registry(session)
    session.commit()
    return keys


def h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def api_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) of /api/v1, read from the app's own OpenAPI document."""
    paths = client.get("/openapi.json").json()["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/v1")
        for method in operations
    ]


def test_every_api_route_needs_a_key(client: TestClient, keys: Keys) -> None:
    routes = api_routes(client)
    assert len(routes) >= 15
    for method, path in routes:
        url = re.sub(r"\{[^}]+\}", "x", path)
        for headers in ({}, h("fr_not-a-real-key")):
            response = client.request(method, url, headers=headers)
            assert response.status_code == 401, (method, path)
            assert response.json()["error"] == "Unauthorized"


# Every route that takes an id, with the other partner's id: partner A must get a 404.
FOREIGN_IDS = {
    "/api/v1/partners/{partner_key}": "PB",
    "/api/v1/sites/{site_key}": "SB1",
    "/api/v1/batches/{batch_key}": None,  # batches are shared; counts are scoped (below)
    "/api/v1/units/{serial}": "UB1",
    "/api/v1/failures/{report_key}": "RB1",
    "/api/v1/imports/{kind}": None,  # refused with 403 for partners (below)
    # Numeric ids made by the test itself: tests/recall/notify/test_router.py checks them.
    "/api/v1/outbox/{message_id}": None,
    "/api/v1/webhooks/{webhook_id}": None,
    "/api/v1/links/{link_id}": None,  # tests/api/test_links.py
}

# Routes only a support lead may use, whatever the id: partners and technicians get 403.
LEAD_ONLY = {
    ("GET", "/api/v1/detection/runs/{run_id}"),
    ("POST", "/api/v1/signals/{signal_id}/status"),
    ("POST", "/api/v1/detection/runs"),
    ("GET", "/api/v1/detection/runs"),
    ("GET", "/api/v1/signals"),
    ("GET", "/api/v1/signals/{signal_id}"),
    ("GET", "/api/v1/signals/{signal_id}/sites"),
    ("POST", "/api/v1/outbox/{message_id}/retry"),
    ("GET", "/api/v1/inbox"),
    ("GET", "/api/v1/inbox/summary"),
    ("GET", "/api/v1/inbox/{item_id}"),
    ("POST", "/api/v1/inbox/{item_id}/read"),
    ("POST", "/api/v1/inbox/{item_id}/unread"),
    ("POST", "/api/v1/inbox/mark"),
}


def test_isolation_table_covers_every_route_with_an_id(client: TestClient) -> None:
    """Every route with an id is in a table of some isolation test: registry routes here,
    recall routes in tests/recall/campaigns/test_isolation.py."""
    templated = {path for _, path in api_routes(client) if "{" in path}
    tables = LEAD_ONLY | RECALL_PARTNER_ROUTES | RECALL_LEAD_ONLY | TECHNICIAN_ROUTES | PLAN_ROUTES
    covered = set(FOREIGN_IDS) | {path for _, path in tables if "{" in path}
    assert templated == covered


@pytest.mark.parametrize(("method", "path"), sorted(LEAD_ONLY))
def test_lead_only_routes_refuse_partners_and_technicians(
    client: TestClient, keys: Keys, method: str, path: str
) -> None:
    assert (method, path) in set(api_routes(client))
    url = re.sub(r"\{[^}]+\}", "1", path)
    for key in (keys.partner_a, keys.technician):
        response = client.request(method, url, headers=h(key), json={})
        assert response.status_code == 403, (method, path)
        assert response.json()["error"] == "Forbidden"


@pytest.mark.parametrize("path", [p for p, v in FOREIGN_IDS.items() if v])
def test_another_partners_ids_answer_404(client: TestClient, keys: Keys, path: str) -> None:
    foreign = FOREIGN_IDS[path]
    assert foreign is not None
    url = path.replace(path[path.index("{") :], foreign)
    assert client.get(url, headers=h(keys.partner_a)).status_code == 404
    assert client.get(url, headers=h(keys.partner_b)).status_code == 200
    assert client.get(url, headers=h(keys.lead)).status_code == 200


@pytest.mark.parametrize(
    ("path", "field", "own"),
    [
        ("/api/v1/partners", "partner_key", {"PA"}),
        ("/api/v1/sites", "site_key", {"SA1", "SA2"}),
        ("/api/v1/units", "serial", {"UA1", "UA2"}),
        ("/api/v1/failures", "report_key", {"RA1"}),
    ],
)
def test_lists_are_filtered_to_the_partner(
    client: TestClient, keys: Keys, path: str, field: str, own: set[str]
) -> None:
    body = client.get(path, headers=h(keys.partner_a)).json()
    assert {item[field] for item in body["items"]} == own
    assert body["total"] == len(own)
    everything = client.get(path, headers=h(keys.lead)).json()
    assert everything["total"] > len(own)


def test_filters_cannot_widen_a_partners_view(client: TestClient, keys: Keys) -> None:
    # Another partner's key reads as unknown: a 422 naming it, exactly as for a key that
    # does not exist, so nothing about the other partner leaks.
    for url, named in (
        ("/api/v1/sites?partner=PB", "partner: no partner 'PB'"),
        ("/api/v1/units?site=SB1", "site: no site 'SB1'"),
        ("/api/v1/failures?serial=UB1", "serial: no serial 'UB1'"),
    ):
        response = client.get(url, headers=h(keys.partner_a))
        assert response.status_code == 422, url
        assert named in response.json()["detail"]
        assert client.get(url, headers=h(keys.lead)).json()["total"] == 1


def test_batch_counts_are_scoped_to_the_partners_units(client: TestClient, keys: Keys) -> None:
    mine = client.get("/api/v1/batches/B1", headers=h(keys.partner_a)).json()
    assert (mine["unit_count"], mine["failure_count"]) == (1, 1)
    all_of_it = client.get("/api/v1/batches/B1", headers=h(keys.lead)).json()
    assert (all_of_it["unit_count"], all_of_it["failure_count"]) == (2, 2)


def test_partners_cannot_import_or_list_technicians(client: TestClient, keys: Keys) -> None:
    upload = {"file": ("partners.csv", b"partner_key,name\nPX,X\n", "text/csv")}
    response = client.post("/api/v1/imports/partners", files=upload, headers=h(keys.partner_a))
    assert response.status_code == 403 and response.json()["error"] == "Forbidden"
    assert client.get("/api/v1/technicians", headers=h(keys.partner_a)).status_code == 403
    assert client.get("/api/v1/partners/PX", headers=h(keys.lead)).status_code == 404


def test_a_partner_cannot_report_on_another_partners_unit(
    client: TestClient, keys: Keys, session: Session
) -> None:
    report = {"report_key": "X1", "serial": "UB1", "occurred_at": "2025-11-10T10:00:00+02:00"}
    response = client.post("/api/v1/failures", json=report, headers=h(keys.partner_a))
    assert response.status_code == 404
    assert session.scalar(text("SELECT count(*) FROM failure_report WHERE report_key='X1'")) == 0
    # Another partner's report key is not taken: keys are unique per reporter, so the
    # same key files a report of partner A's own and tells nothing about B's.
    reuse = {**report, "report_key": "RB1", "serial": "UA1"}
    response = client.post("/api/v1/failures", json=reuse, headers=h(keys.partner_a))
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1
    assert response.json()["items"][0]["reported_by"] == "PA"
    assert "display dead" not in response.text
    theirs = client.get("/api/v1/failures/RB1", headers=h(keys.partner_b)).json()
    assert (theirs["serial"], theirs["symptom"]) == ("UB1", "display dead")


def test_a_technician_sees_only_itself(client: TestClient, keys: Keys) -> None:
    body = client.get("/api/v1/technicians", headers=h(keys.technician)).json()
    assert [t["technician_key"] for t in body["items"]] == ["T1"]
    assert body["items"][0]["skills"] == ["OU-200", "GW-10"]


def test_sites_within_km_of_a_point_are_ordered_by_distance(client: TestClient, keys: Keys) -> None:
    body = client.get("/api/v1/sites?near=65.0,25.47&within_km=5", headers=h(keys.lead)).json()
    assert [s["site_key"] for s in body["items"]] == ["SA1", "SB1"]
    assert 1.0 < body["items"][0]["distance_km"] < 1.2  # 0.01 deg of latitude = 1.11 km
    wide = client.get("/api/v1/sites?near=65.0,25.47&within_km=600", headers=h(keys.lead))
    assert wide.json()["total"] == 3


def test_sites_in_a_bounding_box_and_as_geojson(client: TestClient, keys: Keys) -> None:
    headers = {**h(keys.lead), "Accept": "application/geo+json"}
    response = client.get("/api/v1/sites?bbox=24,59,26,61", headers=headers)
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    [feature] = body["features"]
    assert feature["id"] == "SA2"
    assert feature["geometry"] == {"type": "Point", "coordinates": [24.94, 60.17]}


@pytest.mark.parametrize(
    ("bbox", "expected"),
    [
        # The probe's boxes: wide ones took the short way round the globe, and gave none.
        ("-170,0,170,80", ["SA1", "SA2", "SB1"]),
        ("-180,-90,180,90", ["SA1", "SA2", "SB1"]),
        # Up north a geography box bulges past its edge: SA1 at 65.01 N is outside 65 N.
        ("0,60,60,65", ["SA2"]),
        ("25.46,65.005,25.48,65.015", ["SA1"]),
    ],
)
def test_a_bounding_box_is_a_rectangle_of_longitudes_and_latitudes(
    client: TestClient, keys: Keys, bbox: str, expected: list[str]
) -> None:
    body = client.get(f"/api/v1/sites?bbox={bbox}", headers=h(keys.lead)).json()
    assert [s["site_key"] for s in body["items"]] == expected


def test_bad_query_parameters_are_clear_4xx(client: TestClient, keys: Keys) -> None:
    for url in (
        "/api/v1/sites?bbox=1,2,3",
        "/api/v1/sites?near=95,10&within_km=3",
        "/api/v1/sites?near=60,10",
        "/api/v1/units?limit=0",
        "/api/v1/failures?since=yesterday",
        # Values the database itself would choke on (a 500) unless refused first.
        "/api/v1/units/UA%001",
        "/api/v1/units?serial=UA%001",
        "/api/v1/units?offset=99999999999999999999",
        "/api/v1/sites?bbox=200,1,300,3",
        "/api/v1/sites?bbox=nan,59,26,61",
        "/api/v1/sites?bbox=26,59,24,61",
    ):
        response = client.get(url, headers=h(keys.lead))
        assert response.status_code == 422, url
        assert set(response.json()) == {"error", "detail"}


def test_pagination(client: TestClient, keys: Keys) -> None:
    first = client.get("/api/v1/sites?limit=2", headers=h(keys.lead)).json()
    second = client.get("/api/v1/sites?limit=2&offset=2", headers=h(keys.lead)).json()
    assert first["total"] == second["total"] == 3
    keys_seen = [s["site_key"] for s in first["items"] + second["items"]]
    assert keys_seen == ["SA1", "SA2", "SB1"]


def test_failures_filter_by_batch_and_time(client: TestClient, keys: Keys) -> None:
    body = client.get(
        "/api/v1/failures?batch=B1&since=2025-11-04T00:00:00Z", headers=h(keys.lead)
    ).json()
    assert [f["report_key"] for f in body["items"]] == ["RB1"]


def test_posting_a_failure_twice_returns_the_stored_report(
    client: TestClient, keys: Keys, session: Session
) -> None:
    report = {
        "report_key": "NEW1",
        "serial": "UA1",
        "occurred_at": "2025-11-10T10:00:00+02:00",
        "symptom": "fan",
        "source": "partner",
    }
    first = client.post("/api/v1/failures", json=report, headers=h(keys.partner_a))
    assert first.status_code == 200 and first.json()["created"] == 1
    again = client.post(
        "/api/v1/failures", json={**report, "symptom": "different"}, headers=h(keys.partner_a)
    )
    assert again.json()["created"] == 0
    assert again.json()["items"][0]["symptom"] == "fan"
    assert session.scalar(text("SELECT count(*) FROM failure_report WHERE report_key='NEW1'")) == 1


def test_posting_a_batch_of_failures(client: TestClient, keys: Keys) -> None:
    batch = [
        {"report_key": f"K{i}", "serial": "UA2", "occurred_at": "2025-11-10T10:00:00Z"}
        for i in range(5)
    ]
    batch.append({"report_key": "RA1", "serial": "UA1", "occurred_at": "2025-11-03T07:15:00Z"})
    body = client.post("/api/v1/failures", json=batch, headers=h(keys.lead)).json()
    assert (body["created"], body["existing"]) == (5, 1)
    assert [i["report_key"] for i in body["items"]] == [*(f"K{i}" for i in range(5)), "RA1"]


def test_failure_batches_are_limited_and_validated(client: TestClient, keys: Keys) -> None:
    too_many = [
        {"report_key": f"K{i}", "serial": "UA2", "occurred_at": "2025-11-10T10:00:00Z"}
        for i in range(1001)
    ]
    assert client.post("/api/v1/failures", json=too_many, headers=h(keys.lead)).status_code == 422
    naive = {"report_key": "N1", "serial": "UA2", "occurred_at": "2025-11-10T10:00:00"}
    response = client.post("/api/v1/failures", json=naive, headers=h(keys.lead))
    assert response.status_code == 422 and "time zone" in response.text
    unknown = {"report_key": "N2", "serial": "NOPE", "occurred_at": "2025-11-10T10:00:00Z"}
    response = client.post("/api/v1/failures", json=unknown, headers=h(keys.lead))
    assert response.status_code == 404 and "NOPE" in response.json()["detail"]


def test_csv_upload_imports_or_refuses_whole_files(
    client: TestClient, keys: Keys, session: Session
) -> None:
    good = {"file": ("p.csv", b"partner_key,name\nPC,Gamma\n", "text/csv")}
    response = client.post("/api/v1/imports/partners", files=good, headers=h(keys.lead))
    assert response.status_code == 200 and response.json()["inserted"] == 1
    bad = {
        "file": (
            "s.csv",
            b"site_key,partner_key,name,lat,lon\nS9,PC,N,60,25\nS8,PC,N,60,\n",
            "text/csv",
        )
    }
    response = client.post("/api/v1/imports/sites", files=bad, headers=h(keys.lead))
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "ImportRejected"
    assert body["detail"]["errors"][0] == {
        "line": 3,
        "column": "lon",
        "column_number": 5,
        "reason": "is required",
    }
    assert session.scalar(text("SELECT count(*) FROM site WHERE site_key IN ('S8','S9')")) == 0


def test_oversized_upload_and_unknown_kind(
    client: TestClient, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "max_upload_bytes", 64)
    big = {"file": ("p.csv", b"partner_key,name\n" + b"PQ,Q\n" * 50, "text/csv")}
    response = client.post("/api/v1/imports/partners", files=big, headers=h(keys.lead))
    assert response.status_code == 413 and response.json()["error"] == "PayloadTooLarge"
    monkeypatch.setattr(get_settings(), "max_upload_bytes", 10_000)
    small = {"file": ("p.csv", b"a,b\n", "text/csv")}
    response = client.post("/api/v1/imports/gadgets", files=small, headers=h(keys.lead))
    assert response.status_code == 404


def test_weather_and_stations(client: TestClient, keys: Keys) -> None:
    body = client.get("/api/v1/weather?station=W1&since=2025-11-04", headers=h(keys.partner_a))
    assert [(o["day"], o["temp_min_c"]) for o in body.json()["items"]] == [("2025-11-04", -10.0)]
    stations = client.get("/api/v1/stations", headers=h(keys.lead)).json()
    assert stations["items"][0]["station_key"] == "W1"


# Malformed uploads: (kind, file bytes, status, text that must name the problem).
BAD_UPLOADS = {
    "wrong encoding": (
        "partners",
        "partner_key,name\nPX,Caf\u00e9\n".encode("latin-1"),
        422,
        "not UTF-8",
    ),
    "missing columns": ("units", b"serial,site_key\nUX,SA1\n", 422, "batch_key"),
    "bad coordinates": (
        "sites",
        b"site_key,partner_key,name,lat,lon\nSX,PA,N,91,25\nSY,PA,N,60,east\n",
        422,
        "out of range",
    ),
    "bad dates": (
        "units",
        b"serial,batch_key,site_key,installed_on\nUX,B1,SA1,2025-02-30\n",
        422,
        "not a date",
    ),
    "unknown serial": (
        "failures",
        b"report_key,serial,occurred_at\nRX,NO-SUCH-UNIT,2025-11-03T07:15:00Z\n",
        422,
        "NO-SUCH-UNIT",
    ),
    "quote never closed": ("partners", b'partner_key,name\nPX,"open\n', 422, "end of data"),
    "oversized upload": ("partners", b"partner_key,name\n" + b"PQ,Q\n" * 50, 413, "larger than"),
}


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
def test_malformed_uploads_are_4xx_naming_the_problem_and_change_nothing(
    client: TestClient,
    keys: Keys,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    kind, data, status, named = BAD_UPLOADS[case]
    if case == "oversized upload":
        monkeypatch.setattr(get_settings(), "max_upload_bytes", 64)
    before = row_counts(session, (*REGISTRY_TABLES, "event"))
    upload = {"file": (f"{kind}.csv", data, "text/csv")}
    response = client.post(f"/api/v1/imports/{kind}", files=upload, headers=h(keys.lead))
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error", "detail"}
    assert named in response.text
    assert row_counts(session, (*REGISTRY_TABLES, "event")) == before


GOOD_REPORT = {"report_key": "G1", "serial": "UA1", "occurred_at": "2025-11-10T10:00:00Z"}
# Malformed failure reports, each posted in a batch after a good one: (changes, status, named).
BAD_REPORTS = {
    "unknown serial": ({"serial": "NO-SUCH-UNIT"}, 404, "NO-SUCH-UNIT"),
    "not a date": ({"occurred_at": "yesterday"}, 422, "occurred_at"),
    "date without a zone": ({"occurred_at": "2025-11-10T10:00:00"}, 422, "time zone"),
    "date before 1970": ({"occurred_at": "1900-01-01T00:00:00Z"}, 422, "before 1970-01-01"),
    "date in the future": ({"occurred_at": "2090-01-01T00:00:00Z"}, 422, "in the future"),
    "date before installation": (
        {"occurred_at": "2025-01-01T00:00:00Z"},
        422,
        "before the unit was installed (2025-03-01)",
    ),
    "temperature out of range": ({"ambient_temp_c": -120}, 422, "ambient_temp_c"),
    "unknown source": ({"source": "rumour"}, 422, "source"),
    "NUL in a key": ({"report_key": "B\u0000D"}, 422, "U+0000"),
    "newline in a key": ({"report_key": "B\nD"}, 422, "U+000A line feed"),
    "escape in a symptom": ({"symptom": "dead\u001b[31m"}, 422, "U+001B"),
    "unknown field": ({"colour": "red"}, 422, "colour"),
}


@pytest.mark.parametrize("case", sorted(BAD_REPORTS))
def test_malformed_failure_reports_are_4xx_naming_the_problem_and_store_nothing(
    client: TestClient, keys: Keys, session: Session, case: str
) -> None:
    changes, status, named = BAD_REPORTS[case]
    before = row_counts(session, ("failure_report", "event"))
    bad = {**GOOD_REPORT, "report_key": "G2", **changes}
    response = client.post("/api/v1/failures", json=[GOOD_REPORT, bad], headers=h(keys.lead))
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error", "detail"}
    assert named in response.text
    # The good report of the same request is not stored either.
    assert row_counts(session, ("failure_report", "event")) == before
