"""Recall campaigns: scope evaluation (spatial included), dry run, declaration and its
snapshot, re-evaluation, failure-report follow-through."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from devices.importer import import_csv
from recall.campaigns.service import reevaluate_active
from recall.models import Campaign, CampaignUnit, OutboxMessage, VisitRequest
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import (
    OULU,
    campaign_body,
    declare,
    h,
    load_recall_registry,
)


@pytest.fixture
def keys(session: Session) -> Keys:
    return load_recall_registry(session)


def dry(client: TestClient, keys: Keys, **scope: object) -> dict:
    response = client.post(
        "/api/v1/campaigns/dry-run", json=campaign_body(**scope), headers=h(keys.lead)
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("scope", "serials"),
    [
        ({"batch_keys": ["B1"]}, ["UA1", "UA3", "UA4", "UA5", "UB1"]),
        ({"models": ["GW-10"]}, ["UA2"]),
        ({"batch_keys": ["B1", "B2"]}, ["UA1", "UA2", "UA3", "UA4", "UA5", "UB1"]),
        ({"serial_ranges": [{"first": "UA2", "last": "UA4"}]}, ["UA2", "UA3", "UA4"]),
        (
            {"batch_keys": ["B1"], "installed_from": "2025-04-01", "installed_to": "2025-05-31"},
            ["UA3", "UA5"],
        ),
        ({"batch_keys": ["B1"], "region": OULU}, ["UA1", "UA4", "UB1"]),
        ({"models": ["OU-200"], "region": OULU, "installed_to": "2025-03-31"}, ["UA1", "UB1"]),
    ],
)
def test_scope_is_evaluated_in_the_database(
    client: TestClient, keys: Keys, scope: dict, serials: list[str]
) -> None:
    result = dry(client, keys, **scope)
    assert result["serials"] == serials
    assert result["units"] == len(serials)


def test_a_multipolygon_region_covers_both_parts(client: TestClient, keys: Keys) -> None:
    helsinki = [[24.5, 60.0], [25.5, 60.0], [25.5, 60.4], [24.5, 60.4], [24.5, 60.0]]
    region = {"type": "MultiPolygon", "coordinates": [OULU["coordinates"], [helsinki]]}
    assert dry(client, keys, batch_keys=["B1"], region=region)["serials"] == [
        "UA1",
        "UA3",
        "UA4",
        "UB1",
    ]


def test_dry_run_counts_sites_partners_and_time_and_writes_nothing(
    client: TestClient, keys: Keys, session: Session
) -> None:
    before = session.scalar(text("SELECT count(*) FROM event"))
    result = dry(client, keys, batch_keys=["B1"])
    assert (result["units"], result["sites"], result["partners"]) == (5, 4, 2)
    assert result["partner_keys"] == ["PA", "PB"]
    sa1 = next(s for s in result["site_counts"] if s["site_key"] == "SA1")
    assert (sa1["units"], sa1["estimated_minutes"]) == (2, 15 + 2 * 20)
    assert result["estimated_minutes"] == 4 * 15 + 5 * 20
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert session.scalar(text("SELECT count(*) FROM event")) == before


@pytest.mark.parametrize(
    ("scope", "needle"),
    [
        ({"batch_keys": ["NOPE"]}, "batch 'NOPE'"),
        ({"models": ["XX-1"]}, "model 'XX-1'"),
        ({"region": OULU}, "at least one of batch_keys"),
        ({"serial_ranges": [{"first": "UZ", "last": "UA"}]}, "is empty"),
        (
            {"batch_keys": ["B1"], "installed_from": "2025-06-01", "installed_to": "2025-01-01"},
            "after",
        ),
        (
            {
                "batch_keys": ["B1"],
                "region": {
                    "type": "Polygon",
                    "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
                },
            },
            "not a valid polygon",
        ),
        ({"batch_keys": ["B1"], "region": {"type": "Point", "coordinates": [25, 65]}}, "Polygon"),
        (
            {
                "batch_keys": ["B1"],
                "region": {"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [0, 1], [0, 0]]]},
            },
            "lon in -180..180",
        ),
    ],
)
def test_bad_scopes_are_422_naming_the_problem(
    client: TestClient, keys: Keys, session: Session, scope: dict, needle: str
) -> None:
    for path in ("/api/v1/campaigns/dry-run", "/api/v1/campaigns"):
        response = client.post(path, json=campaign_body(**scope), headers=h(keys.lead))
        assert response.status_code == 422, response.text
        assert needle in response.text
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_a_scope_that_matches_nothing_declares_nothing(
    client: TestClient, keys: Keys, session: Session
) -> None:
    response = client.post(
        "/api/v1/campaigns",
        json=campaign_body(batch_keys=["B2"], region=OULU),
        headers=h(keys.lead),
    )
    assert response.status_code == 422 and "matches no unit" in response.text
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_declaration_snapshots_units_opens_visits_links_reports_and_tells_partners(
    client: TestClient, keys: Keys, session: Session
) -> None:
    campaign = declare(client, keys.lead, batch_keys=["B1"])
    assert (campaign["unit_count"], campaign["site_count"], campaign["partner_count"]) == (5, 4, 2)
    states = session.execute(
        select(CampaignUnit.state, func.count())
        .where(CampaignUnit.campaign_id == campaign["id"])
        .group_by(CampaignUnit.state)
    ).all()
    assert states == [("affected", 5)]
    visits = {
        v["site_key"]: v
        for v in client.get(
            f"/api/v1/campaigns/{campaign['id']}/visits", headers=h(keys.lead)
        ).json()
    }
    assert set(visits) == {"SA1", "SA2", "SA3", "SB1"}
    assert visits["SA1"]["unit_count"] == 2 and visits["SA1"]["estimated_minutes"] == 55
    assert {v["status"] for v in visits.values()} == {"requested"}
    assert sorted(v["priority_rank"] for v in visits.values()) == [1, 2, 3, 4]
    # Both reports of B1 units follow the recall now.
    for report in ("RA1", "RB1"):
        body = client.get(f"/api/v1/failures/{report}", headers=h(keys.lead)).json()
        assert body["status"] == "linked_to_recall"
    # One notice per affected partner, and one per linked report to its reporter, in the
    # same transaction.
    notices = session.execute(
        select(OutboxMessage.partner_key, OutboxMessage.kind).where(
            OutboxMessage.topic == f"campaign:{campaign['id']}"
        )
    ).all()
    assert sorted({n for n in notices}) == [
        ("PA", "failure_linked"),
        ("PA", "recall_declared"),
        ("PB", "failure_linked"),
        ("PB", "recall_declared"),
    ]
    history = client.get(
        f"/api/v1/campaigns/{campaign['id']}/units/UA1", headers=h(keys.lead)
    ).json()["history"]
    assert [(e["action"], e["to_state"], e["reason"]) for e in history] == [
        ("entered", "affected", "declaration")
    ]


def test_the_default_priority_puts_the_coldest_sites_first(
    client: TestClient, keys: Keys, session: Session
) -> None:
    today = session.scalar(text("SELECT current_date"))
    import_csv(
        session,
        "weather",
        f"station_key,day,temp_min_c\nW1,{today.isoformat()},-31\n".encode(),
        filename="weather.csv",
    )
    campaign = declare(client, keys.lead, batch_keys=["B1"])
    ranked = client.get(f"/api/v1/campaigns/{campaign['id']}/visits", headers=h(keys.lead)).json()
    # SA1 and SB1 lie near station W1 (-31 C today); SA1 has two units, SB1 one; the
    # others have no station within reach and come after, the larger first.
    assert [(v["site_key"], v["recent_min_temp_c"]) for v in ranked] == [
        ("SA1", -31.0),
        ("SB1", -31.0),
        ("SA2", None),
        ("SA3", None),
    ]


def test_declaring_twice_with_one_idempotency_key_makes_one_campaign(
    client: TestClient, keys: Keys, session: Session
) -> None:
    headers = {**h(keys.lead), "Idempotency-Key": "declare-b1-once"}
    first = client.post("/api/v1/campaigns", json=campaign_body(), headers=headers)
    again = client.post("/api/v1/campaigns", json=campaign_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert session.scalar(select(func.count()).select_from(Campaign)) == 1
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == len(
        set(session.scalars(select(OutboxMessage.idempotency_key)))
    )


def test_reevaluation_adds_late_units_and_keeps_those_that_left_the_scope(
    client: TestClient, keys: Keys, session: Session
) -> None:
    campaign = declare(client, keys.lead, batch_keys=["B1"])
    # A late import: a new B1 unit at a new site, and UA4 re-imported as batch B2.
    import_csv(
        session,
        "sites",
        b"site_key,partner_key,name,lat,lon\nSB2,PB,Beta Two,65.1,25.6\n",
        filename="sites.csv",
    )
    import_csv(
        session,
        "units",
        b"serial,batch_key,site_key,installed_on\nUB2,B1,SB2,2025-09-01\nUA4,B2,SA1,2025-06-01\n",
        filename="units.csv",
    )
    response = client.post(f"/api/v1/campaigns/{campaign['id']}/reevaluate", headers=h(keys.lead))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "added_serials": ["UB2"],
        "new_sites": ["SB2"],
        "revisit_sites": [],
        "no_longer_matching": ["UA4"],
    }
    serials = set(
        session.scalars(
            text("SELECT u.serial FROM campaign_unit cu JOIN unit u ON u.id = cu.unit_id")
        )
    )
    assert serials == {"UA1", "UA3", "UA4", "UA5", "UB1", "UB2"}
    assert session.scalar(select(func.count()).select_from(VisitRequest)) == 5
    again = client.post(f"/api/v1/campaigns/{campaign['id']}/reevaluate", headers=h(keys.lead))
    assert again.json()["added_serials"] == []
    kinds = session.scalars(
        select(OutboxMessage.kind)
        .where(OutboxMessage.partner_key == "PB")
        .order_by(OutboxMessage.id)
    ).all()
    assert "units_added" in kinds


def test_a_declaration_from_a_signal_closes_the_signal(
    client: TestClient, keys: Keys, session: Session
) -> None:
    signal_id = session.scalar(
        text(
            "INSERT INTO detection_run (as_of, variable, direction, parameters, created_by, status)"
            " VALUES ('2025-12-01', 'temp_min_c', 'below', '{}', 'test', 'done') RETURNING id"
        )
    )
    result_id = session.scalar(
        text(
            "INSERT INTO detection_result (run_id, batch_id, flagged, result)"
            " SELECT :run, id, true, '{\"batch_key\": \"B1\"}' FROM batch WHERE batch_key = 'B1'"
            " RETURNING id"
        ),
        {"run": signal_id},
    )
    signal = session.scalar(
        text(
            "INSERT INTO signal (batch_id, variable, direction, status, first_run_id,"
            " latest_result_id, status_changed_by)"
            " SELECT id, 'temp_min_c', 'below', 'new', :run, :result, 'test' FROM batch"
            " WHERE batch_key = 'B1' RETURNING id"
        ),
        {"run": signal_id, "result": result_id},
    )
    body = campaign_body()
    body["signal_id"] = signal
    response = client.post("/api/v1/campaigns", json=body, headers=h(keys.lead))
    assert response.status_code == 201, response.text
    status = session.scalar(text("SELECT status FROM signal WHERE id = :id"), {"id": signal})
    assert status == "recall_declared"


def test_reevaluating_every_active_recall_picks_up_their_late_units(
    client: TestClient, keys: Keys, session: Session
) -> None:
    b1 = declare(client, keys.lead, batch_keys=["B1"])
    b2 = declare(client, keys.lead, batch_keys=["B2"])
    import_csv(
        session,
        "units",
        b"serial,batch_key,site_key,installed_on\nUA9,B2,SA3,2025-10-01\n",
        filename="units.csv",
    )
    results = reevaluate_active(session, actor="scheduler")
    assert {cid: r.added_serials for cid, r in results.items()} == {b1["id"]: [], b2["id"]: ["UA9"]}
    history = client.get(f"/api/v1/campaigns/{b2['id']}/units/UA9", headers=h(keys.lead)).json()
    assert [(e["actor"], e["reason"]) for e in history["history"]] == [
        ("scheduler", "re-evaluation")
    ]
