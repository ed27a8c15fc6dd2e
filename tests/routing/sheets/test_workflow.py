"""The technician's workflow: start a stop, record an outcome per unit, finish; outcomes
move unit states, feed the ledger, resolve linked reports and tell the partner; every
call is safe to repeat."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from recall.models import OutboxMessage, VisitRequest
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import declare, h, load_recall_registry
from tests.routing.plans.fixtures import PlanWorld, publish_by_hand


@pytest.fixture
def keys(session: Session) -> Keys:
    return load_recall_registry(session)


@pytest.fixture
def campaign(client: TestClient, keys: Keys) -> dict:
    return declare(client, keys.lead, batch_keys=["B1"])


@pytest.fixture
def world(campaign: dict, session: Session) -> PlanWorld:
    return publish_by_hand(session, campaign["id"])


def post(client: TestClient, key: str, url: str, body: dict | None = None):
    return client.post(url, json=body, headers=h(key))


def events(session: Session) -> int:
    return int(session.scalar(text("SELECT count(*) FROM event")) or 0)


def test_a_visit_from_start_to_finish(
    client: TestClient, keys: Keys, campaign: dict, world: PlanWorld, session: Session
) -> None:
    stop = world.stops["SA1"]
    tech = keys.technician
    early = post(client, tech, f"/api/v1/stops/{stop}/finish")
    assert early.status_code == 409 and "UA1, UA4" in early.json()["detail"]

    started = post(client, tech, f"/api/v1/stops/{stop}/start").json()
    assert started["status"] == "started"
    assert started["units"] == {"UA1": "in_progress", "UA4": "in_progress"}
    before = events(session)
    assert post(client, tech, f"/api/v1/stops/{stop}/start").json()["units"] == started["units"]
    assert events(session) == before  # starting twice moved nothing

    url = f"/api/v1/stops/{stop}/units"
    fixed = post(client, tech, f"{url}/UA1/outcome", {"outcome": "fixed", "note": "board swapped"})
    assert fixed.json()["units"]["UA1"] == "fixed"
    before = events(session)
    again = post(client, tech, f"{url}/UA1/outcome", {"outcome": "fixed", "note": "board swapped"})
    assert again.status_code == 200 and events(session) == before
    changed = post(client, tech, f"{url}/UA1/outcome", {"outcome": "refused"})
    assert changed.status_code == 409 and "final" in changed.json()["detail"]
    assert post(client, tech, f"{url}/UB1/outcome", {"outcome": "fixed"}).status_code == 404
    assert post(client, tech, f"{url}/UA4/outcome", {"outcome": "melted"}).status_code == 422
    post(client, tech, f"{url}/UA4/outcome", {"outcome": "refused", "note": "owner declined"})

    done = post(client, tech, f"/api/v1/stops/{stop}/finish").json()
    assert done["status"] == "finished" and done["finished_at"]
    assert session.get_one(VisitRequest, world.visits["SA1"]).status == "done"
    assert post(client, tech, f"/api/v1/stops/{stop}/finish").status_code == 200
    notices = session.scalars(
        select(OutboxMessage.body).where(OutboxMessage.kind == "visit_done")
    ).all()
    assert len(notices) == 1  # PA has one channel (email); finishing twice told it once
    assert (
        "UA1: fixed" in notices[0]
        and "UA4: not fixed: the fix was declined on site (owner declined)" in notices[0]
        and "Our support lead will contact you about 1 unit (UA4)" in notices[0]
    )

    ledger = client.get(f"/api/v1/campaigns/{campaign['id']}/ledger", headers=h(keys.lead)).json()
    assert (ledger["units"]["fixed"], ledger["units"]["refused"]) == (1, 1)
    # The refused unit waits for the lead's decision: not complete.
    assert ledger["units"]["completion_rate"] == pytest.approx(1 / 5)
    assert ledger["decisions_pending"] == 1
    line = next(p for p in ledger["partners"] if p["partner_key"] == "PA")
    assert line["visits_done"] == 1
    # The partner sees it: RA1 (UA1's report) is resolved with the technician's note.
    report = client.get("/api/v1/failures/RA1", headers=h(keys.partner_a)).json()
    assert report["status"] == "resolved" and "board swapped" in report["resolution_note"]
    unit = client.get(
        f"/api/v1/campaigns/{campaign['id']}/units/UA4", headers=h(keys.partner_a)
    ).json()
    assert unit["state"] == "refused" and unit["history"][-1]["reason"] == "owner declined"


def test_an_outcome_on_a_planned_stop_starts_it(
    client: TestClient, keys: Keys, world: PlanWorld
) -> None:
    stop = world.stops["SB1"]
    body = post(
        client, keys.lead, f"/api/v1/stops/{stop}/units/UB1/outcome", {"outcome": "not_found"}
    ).json()
    assert body["status"] == "started" and body["units"] == {"UB1": "not_found"}
