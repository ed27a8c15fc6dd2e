"""Who may report which failures, and under which source and key: the source follows the
caller's role, a technician reports only on units at the sites of its routes, and report
keys are unique per reporter, so nobody can squat a key another reporter will use."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from devices.importer import import_csv
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import declare, h, load_recall_registry
from tests.routing.plans.fixtures import publish_by_hand


def report(key: str, serial: str, **extra: str) -> dict[str, str]:
    return {
        "report_key": key,
        "serial": serial,
        "occurred_at": "2025-11-10T10:00:00+02:00",
        **extra,
    }


def post(client: TestClient, api_key: str, body: dict) -> tuple[int, dict]:
    response = client.post("/api/v1/failures", json=body, headers=h(api_key))
    return response.status_code, response.json()


def test_the_source_follows_the_callers_role(client: TestClient, session: Session) -> None:
    keys: Keys = load_recall_registry(session)
    status, body = post(client, keys.partner_a, report("P1", "UA1", source="telemetry"))
    assert status == 422 and "source 'partner'" in body["detail"]
    status, body = post(client, keys.partner_a, report("P1", "UA1"))
    assert status == 200 and body["items"][0]["source"] == "partner"
    status, body = post(client, keys.lead, report("T1", "UB1", source="telemetry"))
    assert status == 200 and body["items"][0]["source"] == "telemetry"
    assert body["items"][0]["reported_by"] is None


def test_a_technician_reports_only_at_the_sites_of_its_routes(
    client: TestClient, session: Session
) -> None:
    keys = load_recall_registry(session)
    # No route yet: every unit is out of its reach, and looks unknown.
    assert post(client, keys.technician, report("X0", "UA1"))[0] == 404
    campaign = declare(client, keys.lead, batch_keys=["B1"])
    publish_by_hand(session, campaign["id"])  # T1's route: SA1 and SB1
    status, body = post(client, keys.technician, report("X1", "UA1"))
    assert status == 200 and body["items"][0]["source"] == "technician"
    assert post(client, keys.technician, report("X2", "UA3"))[0] == 404  # UA3 is at SA2
    status, body = post(client, keys.technician, report("X3", "UB1", source="telemetry"))
    assert status == 422
    stored = session.execute(text("SELECT report_key FROM failure_report ORDER BY 1")).scalars()
    assert "X2" not in list(stored)


def test_report_keys_are_unique_per_reporter(client: TestClient, session: Session) -> None:
    keys = load_recall_registry(session)
    # Partner A files K9 first: the telemetry feed's K9 (imported by the operator) and
    # partner B's K9 are still stored, each in its own namespace.
    assert post(client, keys.partner_a, report("K9", "UA1"))[0] == 200
    import_csv(
        session,
        "failures",
        b"report_key,serial,occurred_at,source\nK9,UA1,2025-11-11T07:00:00+02:00,telemetry\n",
        filename="failures.csv",
    )
    assert post(client, keys.partner_b, report("K9", "UB1"))[0] == 200
    rows = session.execute(
        text(
            "SELECT coalesce(p.partner_key, 'operator'), f.source FROM failure_report f"
            " LEFT JOIN partner p ON p.id = f.reported_by_partner_id"
            " WHERE f.report_key = 'K9' ORDER BY 1"
        )
    ).all()
    assert [tuple(r) for r in rows] == [
        ("PA", "partner"),
        ("PB", "partner"),
        ("operator", "telemetry"),
    ]
    # A partner reads its own K9; a lead must say whose, or gets a 409 that says how.
    own = client.get("/api/v1/failures/K9", headers=h(keys.partner_a)).json()
    assert own["reported_by"] == "PA"
    lead = client.get("/api/v1/failures/K9", headers=h(keys.lead)).json()
    assert lead["reported_by"] is None and lead["source"] == "telemetry"
    picked = client.get("/api/v1/failures/K9?reporter=PB", headers=h(keys.lead)).json()
    assert picked["serial"] == "UB1"
    # Importing the telemetry file again is a no-op in the operator's namespace.
    again = import_csv(
        session,
        "failures",
        b"report_key,serial,occurred_at,source\nK9,UA1,2025-11-11T07:00:00+02:00,telemetry\n",
        filename="failures.csv",
    )
    assert (again.inserted, again.unchanged) == (0, 1)
