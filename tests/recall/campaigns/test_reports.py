"""No report left open: a failure report on a unit already under an active recall is linked
at once (through the API and through a CSV import), its reporter is told, the lead sees it
in the inbox, the technician sees it on the route sheet, and resolving it still needs a
note the reporter sees."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from recall.models import OutboxMessage
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import declare, h, load_recall_registry
from tests.routing.plans.fixtures import PlanWorld, publish_by_hand


@pytest.fixture
def keys(session: Session) -> Keys:
    return load_recall_registry(session)


@pytest.fixture
def campaign(client: TestClient, keys: Keys) -> dict:
    return declare(client, keys.lead, batch_keys=["B1"])


def report(key: str, serial: str) -> dict:
    return {
        "report_key": key,
        "serial": serial,
        "occurred_at": "2025-12-01T06:30:00+02:00",
        "symptom": "no boot after a frosty night",
        "source": "partner",
    }


def notices(session: Session, kind: str) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        )
    )


def test_a_partners_report_on_a_recalled_unit_is_linked_at_once_and_acknowledged(
    client: TestClient, keys: Keys, campaign: dict, session: Session
) -> None:
    before = len(notices(session, "failure_linked"))
    response = client.post(
        "/api/v1/failures",
        json=[report("RA9", "UA4"), report("RA8", "UA2")],
        headers=h(keys.partner_a),
    )
    assert response.status_code == 200, response.text
    status = {r["report_key"]: r["status"] for r in response.json()["items"]}
    # UA4 is in the B1 recall: linked at once; UA2 (batch B2) is in no recall: open.
    assert status == {"RA9": "linked_to_recall", "RA8": "open"}
    acks = notices(session, "failure_linked")[before:]
    assert [(m.partner_key, m.data["report_key"], m.topic) for m in acks] == [
        ("PA", "RA9", f"campaign:{campaign['id']}")
    ]
    assert "is covered by our recall OU-200 cold boot" in acks[0].body
    # The lead's inbox has both reports, newest first, as partner actions.
    inbox = client.get("/api/v1/inbox?kind=failure_reported", headers=h(keys.lead)).json()
    assert [(i["report_key"], i["serial"], i["partner_key"]) for i in inbox["items"]] == [
        ("RA8", "UA2", "PA"),
        ("RA9", "UA4", "PA"),
    ]
    # Sending the same reports again changes nothing: no second item, no second notice.
    again = client.post("/api/v1/failures", json=[report("RA9", "UA4")], headers=h(keys.partner_a))
    assert again.json()["created"] == 0
    assert (
        client.get("/api/v1/inbox?kind=failure_reported", headers=h(keys.lead)).json()["total"] == 2
    )
    assert len(notices(session, "failure_linked")) == before + 1
    # The list filter by status works (it was ignored before).
    linked = client.get("/api/v1/failures?status=linked_to_recall", headers=h(keys.partner_a))
    assert {r["report_key"] for r in linked.json()["items"]} == {"RA1", "RA9"}


def test_an_imported_report_on_a_recalled_unit_is_linked_at_once(
    client: TestClient, keys: Keys, campaign: dict, session: Session
) -> None:
    csv = (
        "report_key,serial,occurred_at,symptom,source\n"
        "RB7,UB1,2025-12-02T07:00:00+01:00,dead again,partner\n"
    )
    response = client.post(
        "/api/v1/imports/failures",
        files={"file": ("failures.csv", csv.encode(), "text/csv")},
        headers=h(keys.lead),
    )
    assert response.status_code == 200, response.text
    body = client.get("/api/v1/failures/RB7", headers=h(keys.partner_b)).json()
    assert body["status"] == "linked_to_recall"
    assert [m.data["report_key"] for m in notices(session, "failure_linked")][-1] == "RB7"
    # The lead imported it: not news for the lead's inbox.
    assert (
        client.get("/api/v1/inbox?kind=failure_reported", headers=h(keys.lead)).json()["total"] == 0
    )


def test_the_technician_sees_the_units_open_reports_on_every_sheet_format(
    client: TestClient, keys: Keys, campaign: dict, session: Session
) -> None:
    world: PlanWorld = publish_by_hand(session, campaign["id"])
    client.post("/api/v1/failures", json=[report("RA9", "UA4")], headers=h(keys.partner_a))
    url = f"/api/v1/routes/{world.route_id}/sheet"
    sheet = client.get(f"{url}?format=json", headers=h(keys.technician)).json()
    units = {u["serial"]: u for u in sheet["stops"][0]["units"]}
    assert [r["report_key"] for r in units["UA4"]["reports"]] == ["RA9"]
    assert units["UA4"]["reports"][0]["symptom"] == "no boot after a frosty night"
    page = client.get(f"{url}?format=html", headers=h(keys.technician)).text
    assert 'data-report="RA9"' in page and "no boot after a frosty night" in page
    pdf = client.get(f"{url}?format=pdf", headers=h(keys.technician)).content
    from_pdf = _pdf_text(pdf)
    assert "UA4 reported 2025-12-01 (RA9): no boot after a frosty night" in from_pdf


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_resolving_a_report_needs_a_note_the_reporter_sees(
    client: TestClient, keys: Keys, campaign: dict, session: Session
) -> None:
    url = "/api/v1/failures/RA1/status"
    bare = client.post(url, json={"status": "resolved"}, headers=h(keys.lead))
    assert bare.status_code == 422 and "resolution note" in bare.json()["detail"]
    assert client.get("/api/v1/failures/RA1", headers=h(keys.partner_a)).json()["status"] == (
        "linked_to_recall"
    )
    note = "Replaced the power board on site; the unit boots at -20 C."
    done = client.post(url, json={"status": "resolved", "note": note}, headers=h(keys.lead))
    assert done.status_code == 204
    seen = client.get("/api/v1/failures/RA1", headers=h(keys.partner_a)).json()
    assert (seen["status"], seen["resolution_note"]) == ("resolved", note)
    told = notices(session, "failure_resolved")
    assert told[-1].partner_key == "PA" and note in told[-1].body
