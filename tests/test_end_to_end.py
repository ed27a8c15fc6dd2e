"""The main job end to end on a demo-sized fleet, through the product's own API:
detection flags the cold batch, the lead declares the recall from its signal, a plan covers
every affected site (or says why not), passes the validator and is published; a technician
works the first stop of its first day; the ledger and the partner's view show it."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.demo.scenario import DemoSpec, generate
from api.keys import create_key
from devices.importer import import_directory
from devices.models import Batch
from recall.detection.service import create_run, execute_run
from recall.models import VisitRequest
from routing.plans.models import PlanStop, PlanUnassigned
from routing.plans.run import run_plan
from tests.recall.campaigns.fixtures import h
from tests.routing.sheets.test_sheets import assert_every_format_agrees_with_the_stored_plan

FLEET = DemoSpec(
    seed=7, partners=8, sites=90, towns=5, batches=8, units=4000, stations=10, technicians=4
)


def test_from_failures_to_a_fixed_unit_the_partner_can_see(
    client: TestClient, session: Session, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    truth = generate(tmp_path, FLEET)
    import_directory(session, tmp_path)
    lead = create_key(session, role="support_lead")
    session.commit()

    # 1. Detection flags the cold batch, and only it.
    run = create_run(session, actor="test", as_of=FLEET.season_end, enqueue=False)
    execute_run(session, run.id, actor="test")
    session.commit()
    signals = client.get("/api/v1/signals", headers=h(lead)).json()
    assert [s["batch_key"] for s in signals] == [truth.cold_batch]

    # 2. Dry run, then the recall from the signal.
    body = {
        "title": "Cold boot failures",
        "scope": {"batch_keys": [truth.cold_batch]},
        "remedy": "Replace the power board",
        "required_skill": session.scalar(
            select(Batch.model).where(Batch.batch_key == truth.cold_batch)
        ),
        "signal_id": signals[0]["id"],
    }
    dry = client.post("/api/v1/campaigns/dry-run", json=body, headers=h(lead)).json()
    campaign = client.post("/api/v1/campaigns", json=body, headers=h(lead)).json()
    assert campaign["unit_count"] == dry["units"] > 0
    assert campaign["site_count"] == dry["sites"]
    cid = campaign["id"]

    # 3. A plan on the worker's code path (run inline here), every site accounted for.
    started = client.post(
        f"/api/v1/campaigns/{cid}/plans",
        json={"first_day": "2026-12-01", "last_day": "2026-12-14", "seconds": 8},
        headers=h(lead),
    )
    assert started.status_code == 202, started.text
    plan_id = started.json()["id"]
    assert run_plan(plan_id, sessions=sessions, heartbeat=False) == "done"
    plan = client.get(f"/api/v1/plans/{plan_id}", headers=h(lead)).json()
    assert plan["stats"]["validator"] == {"ok": True, "violations": [], "violation_count": 0}
    visits = set(session.scalars(select(VisitRequest.id).where(VisitRequest.campaign_id == cid)))
    planned = set(
        session.scalars(select(PlanStop.visit_request_id).where(PlanStop.plan_id == plan_id))
    )
    unassigned = dict(
        session.execute(
            select(PlanUnassigned.visit_request_id, PlanUnassigned.reason).where(
                PlanUnassigned.plan_id == plan_id
            )
        ).all()
    )
    assert planned | set(unassigned) == visits and not planned & set(unassigned)
    assert all(reason for reason in unassigned.values())
    assert len(planned) >= len(visits) // 2

    # 4. Publish: visits scheduled, partners told (outbox), sheets agree with the plan.
    published = client.post(f"/api/v1/plans/{plan_id}/publish", headers=h(lead))
    assert published.status_code == 200, published.text
    first = min(
        (r for r in plan["routes"] if r["stops"]), key=lambda r: (r["day"], r["technician_key"])
    )
    tech = create_key(session, role="technician", technician_key=first["technician_key"])
    session.commit()
    [route] = [
        r
        for r in client.get("/api/v1/technicians/me/routes", headers=h(tech)).json()
        if r["day"] == first["day"]
    ]
    sheet = assert_every_format_agrees_with_the_stored_plan(
        client, tech, route["route_id"], session
    )

    # 5. The technician works the first stop: all fixed but the last unit, refused.
    stop = sheet["stops"][0]
    serials = [u["serial"] for u in stop["units"]]
    assert {u["state"] for u in stop["units"]} == {"scheduled"}
    assert client.post(f"/api/v1/stops/{stop['stop_id']}/start", headers=h(tech)).status_code == 200
    for serial in serials:
        outcome = "refused" if serial == serials[-1] and len(serials) > 1 else "fixed"
        response = client.post(
            f"/api/v1/stops/{stop['stop_id']}/units/{serial}/outcome",
            json={"outcome": outcome, "note": "e2e"},
            headers=h(tech),
        )
        assert response.status_code == 200, response.text
    assert (
        client.post(f"/api/v1/stops/{stop['stop_id']}/finish", headers=h(tech)).status_code == 200
    )
    refused = 1 if len(serials) > 1 else 0

    # 6. The ledger and the partner's view reflect it.
    ledger = client.get(f"/api/v1/campaigns/{cid}/ledger", headers=h(lead)).json()
    assert ledger["units"]["fixed"] == len(serials) - refused
    assert ledger["units"]["refused"] == refused
    assert ledger["units"]["scheduled"] == ledger["units"]["total"] - len(serials) - sum(
        ledger["units"][s] for s in ("affected", "notified")
    )
    partner = create_key(session, role="partner", partner_key=stop["partner"]["key"])
    session.commit()
    mine = client.get(f"/api/v1/campaigns/{cid}/visits", headers=h(partner)).json()
    visit = next(v for v in mine if v["id"] == stop["visit_id"])
    assert visit["status"] == "done"
    assert {v["partner_key"] for v in mine} == {stop["partner"]["key"]}
    units = client.get(
        f"/api/v1/campaigns/{cid}/units?site={stop['site']['key']}", headers=h(partner)
    ).json()["items"]
    assert sorted(u["state"] for u in units) == sorted(
        ["fixed"] * (len(serials) - refused) + ["refused"] * refused
    )
    told = client.get(
        f"/api/v1/outbox?topic=campaign:{cid}&kind=visit_done", headers=h(partner)
    ).json()
    assert told["total"] >= 1
