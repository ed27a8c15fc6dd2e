"""The server's rules for work at a visit (by stop and by visit): nothing before the stop's
day (a 409 with the reason, the day read in the plan's zone); a repeat is a no-op; a
different outcome after an outcome is a 409 that says what is recorded; work by visit id
survives a re-plan, lands on a visit moved to a later day when the technician worked it
on its day, and a technician's conflicts are kept for the lead's inbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from devices.models import Technician
from recall.models import VisitRequest
from routing.plans import service as plans
from routing.plans.models import FieldPlan, PlanRoute, PlanStop
from tests.api.pages.technician.fixtures import outcome_events, replan_by_hand
from tests.conftest import FieldClock
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import declare, h, load_recall_registry
from tests.routing.plans.fixtures import DAY, PlanWorld, at, publish_by_hand
from tests.routing.plans.planner_world import make_world, plan_now, replan_now


@pytest.fixture
def keys(session: Session) -> Keys:
    return load_recall_registry(session)


@pytest.fixture
def world(client: TestClient, keys: Keys, session: Session, field_clock: FieldClock) -> PlanWorld:
    campaign = declare(client, keys.lead, batch_keys=["B1"])
    field_clock.set(at(9))  # 09:00 on the route's day in Helsinki
    return publish_by_hand(session, campaign["id"])


def count(session: Session, table: str) -> int:
    return int(session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


def outcome(client: TestClient, key: str, visit: int, serial: str, what: str, **extra: str) -> dict:
    answer = client.post(
        f"/api/v1/visits/{visit}/units/{serial}/outcome",
        json={"outcome": what, **extra},
        headers=h(key),
    )
    return {"http": answer.status_code, **answer.json()}


def test_nothing_is_recorded_before_the_stops_day(
    client: TestClient, keys: Keys, world: PlanWorld, session: Session, field_clock: FieldClock
) -> None:
    # 23:30 on the day before, in Helsinki (21:30 UTC).
    field_clock.set(datetime(2026, 12, 2, 21, 30, tzinfo=UTC))
    before = count(session, "event")
    stop = world.stops["SA1"]
    for url, body in (
        (f"/api/v1/stops/{stop}/start", None),
        (f"/api/v1/stops/{stop}/units/UA1/outcome", {"outcome": "fixed"}),
        (f"/api/v1/stops/{stop}/finish", None),
    ):
        refused = client.post(url, json=body, headers=h(keys.lead))
        assert refused.status_code == 409, url
        assert refused.json()["detail"] == (
            f"stop {stop} is planned for Thu 3 Dec 2026; outcomes are recorded from that day"
            " on (today is Wed 2 Dec 2026 in Europe/Helsinki)"
        )
    assert count(session, "event") == before and count(session, "inbox_item") == 0
    # A technician's refused outcome by visit is kept for the lead, and said plainly.
    early = outcome(client, keys.technician, world.visits["SA1"], "UA1", "fixed")
    assert early["http"] == 409 and early["kept_for_lead"] is True
    assert "outcomes are recorded from that day on" in early["detail"]
    assert count(session, "event") == before and count(session, "inbox_item") == 1
    # 00:30 on the day in Helsinki is still the day before in UTC: the day has come.
    field_clock.set(datetime(2026, 12, 2, 22, 30, tzinfo=UTC))
    assert client.post(f"/api/v1/stops/{stop}/start", headers=h(keys.lead)).status_code == 200


def test_a_repeat_changes_nothing_and_another_outcome_says_what_is_recorded(
    client: TestClient, keys: Keys, world: PlanWorld, session: Session
) -> None:
    visit = world.visits["SA1"]
    first = outcome(client, keys.technician, visit, "UA1", "fixed", note="board swapped")
    assert first["http"] == 200 and first["result"] == "applied"
    assert first["units"] == {"UA1": "fixed", "UA4": "in_progress"}
    events = count(session, "event")
    again = outcome(client, keys.technician, visit, "UA1", "fixed", note="board swapped")
    assert again["http"] == 200 and again["units"] == first["units"]
    assert count(session, "event") == events

    other = outcome(client, keys.technician, visit, "UA1", "refused")
    assert other["http"] == 409 and other["error"] == "FieldConflict"
    assert other["detail"].startswith("unit UA1 has the final outcome fixed, recorded ")
    assert "(Europe/Helsinki) by Tea Tech: board swapped" in other["detail"]
    assert other["detail"].endswith("; a different outcome (refused) is not recorded")
    assert outcome_events(session, "UA1") == ["fixed"] and count(session, "event") == events
    item = client.get(f"/api/v1/inbox/{other['inbox_item_id']}", headers=h(keys.lead)).json()
    assert item["kind"] == "field_conflict" and item["serial"] == "UA1"
    assert item["data"]["recorded"]["outcome"] == "refused"
    assert item["data"]["reason"] == other["detail"]
    # The lead's own different outcome is a plain 409 (by stop too): nothing to keep.
    lead = client.post(
        f"/api/v1/stops/{world.stops['SA1']}/units/UA1/outcome",
        json={"outcome": "not_found"},
        headers=h(keys.lead),
    )
    assert lead.status_code == 409 and "has the final outcome fixed" in lead.json()["detail"]
    assert count(session, "inbox_item") == 1


def test_a_key_sent_again_replays_the_first_answer_and_keeps_one_conflict(
    client: TestClient, keys: Keys, world: PlanWorld, session: Session
) -> None:
    # The phone's reply was lost: it sends the same work with the same key again.
    replan_by_hand(session, world, {"SB1": ("T2", DAY)})
    url = f"/api/v1/visits/{world.visits['SB1']}/units/UB1/outcome"
    body = {"outcome": "fixed", "day": DAY.isoformat(), "recorded_at": at(8).isoformat()}
    mine = {**h(keys.technician), "Idempotency-Key": "fa-ub1-fixed"}
    first = client.post(url, json=body, headers=mine)
    again = client.post(url, json=body, headers=mine)
    assert first.status_code == again.status_code == 409
    assert again.json() == first.json() and first.json()["kept_for_lead"] is True
    assert count(session, "inbox_item") == 1
    # The key again for other work is refused, not answered with the first one's result.
    other = client.post(url, json={**body, "outcome": "refused"}, headers=mine)
    assert other.status_code == 422 and "already used for a different request" in other.text
    # Keys are the technician's own: Toni Tech's same key is another request.
    theirs = {**h(world.other_technician), "Idempotency-Key": "fa-ub1-fixed"}
    assert client.post(url, json=body, headers=theirs).status_code == 200
    assert outcome_events(session, "UB1") == ["fixed"] and count(session, "inbox_item") == 1


def test_work_by_visit_finds_its_visit_after_a_replan(
    client: TestClient, keys: Keys, world: PlanWorld, session: Session
) -> None:
    old_stop = world.stops["SA1"]
    replan_by_hand(session, world, {})
    # The stop row of the old version is gone from the published plan...
    stale = client.post(f"/api/v1/stops/{old_stop}/start", headers=h(keys.technician))
    assert stale.status_code == 404
    # ...the visit is not.
    done = outcome(client, keys.technician, world.visits["SA1"], "UA1", "fixed")
    assert done["http"] == 200 and done["stop_id"] != old_stop
    assert session.get_one(PlanStop, done["stop_id"]).status == "started"


def test_a_visit_moved_to_a_later_day_takes_the_work_of_its_first_day(
    client: TestClient, keys: Keys, world: PlanWorld, session: Session
) -> None:
    replan_by_hand(session, world, {"SA1": ("T1", DAY + timedelta(days=1))})
    visit = world.visits["SA1"]
    # Without the day the phone showed, the stop's new day has not come.
    early = outcome(client, keys.technician, visit, "UA1", "fixed")
    assert early["http"] == 409 and "Fri 4 Dec 2026" in early["detail"]
    # The phone recorded it on its sheet of the 3rd, where the visit was then.
    done = outcome(client, keys.technician, visit, "UA1", "fixed", day=DAY.isoformat())
    assert done["http"] == 200 and outcome_events(session, "UA1") == ["fixed"]
    # A day on which the technician never had the visit does not count.
    later = outcome(
        client, keys.technician, visit, "UA4", "fixed", day=(DAY - timedelta(days=1)).isoformat()
    )
    assert later["http"] == 409 and "Fri 4 Dec 2026" in later["detail"]


def test_a_visit_moved_to_another_technician_is_a_conflict_kept_for_the_lead(
    client: TestClient, keys: Keys, world: PlanWorld, session: Session
) -> None:
    replan_by_hand(session, world, {"SB1": ("T2", DAY)})
    visit = world.visits["SB1"]
    refused = outcome(client, keys.technician, visit, "UB1", "fixed", note="on site at 9")
    assert refused["http"] == 409 and refused["result"] == "conflict"
    assert refused["detail"] == (
        "the visit to Beta One is no longer on your route: it is now Toni Tech's, on Thu 3 Dec 2026"
    )
    inbox = client.get("/api/v1/inbox?kind=field_conflict", headers=h(keys.lead)).json()
    assert inbox["total"] == 1
    item = inbox["items"][0]
    assert (item["visit_id"], item["serial"], item["partner_key"]) == (visit, "UB1", "PB")
    assert item["summary"].startswith("Tea Tech (T1): outcome fixed for unit UB1 not applied")
    assert item["data"]["recorded"]["note"] == "on site at 9"
    assert item["data"]["technician_key"] == "T1"
    assert outcome_events(session, "UB1") == []
    # Toni Tech has it now and records it; SA1 it never had: another's visit (404).
    assert outcome(client, world.other_technician, visit, "UB1", "fixed")["http"] == 200
    assert (
        outcome(client, world.other_technician, world.visits["SA1"], "UA1", "fixed")["http"] == 404
    )


def test_a_done_visit_and_the_summary_of_the_finished_stop(
    client: TestClient, keys: Keys, world: PlanWorld, session: Session
) -> None:
    visit = world.visits["SA1"]
    outcome(client, keys.technician, visit, "UA1", "fixed")
    outcome(client, keys.technician, visit, "UA4", "unable_to_access", note="gate locked")
    finished = client.post(f"/api/v1/visits/{visit}/finish", json={}, headers=h(keys.technician))
    assert finished.status_code == 200 and finished.json()["status"] == "finished"
    # UA4 went back for a revisit; the finished stop still shows what happened there.
    assert finished.json()["units"] == {"UA1": "fixed", "UA4": "notified"}
    assert session.get_one(VisitRequest, visit).status == "done"
    sheet = client.get(
        f"/api/v1/routes/{world.route_id}/sheet?format=html", headers=h(keys.technician)
    ).text
    assert 'data-serial="UA4" data-state="notified" data-done="unable_to_access"' in sheet
    again = client.post(f"/api/v1/visits/{visit}/finish", json={}, headers=h(keys.technician))
    assert again.status_code == 200
    revisit = session.scalars(select(VisitRequest).where(VisitRequest.attempt == 2)).one()
    assert revisit.status == "requested"


@pytest.mark.parametrize("absent_days", [1, 5])
def test_a_real_replan_between_recording_and_sending_loses_nothing(
    client: TestClient,
    session: Session,
    sessions: sessionmaker[Session],
    field_clock: FieldClock,
    absent_days: int,
) -> None:
    """The planner's own re-plan: Tea Tech records UB1 fixed at SB1 while offline; the lead,
    told Tea Tech is off that day (or the rest of the week), records the absence and
    re-plans from that day (the day's routes are frozen unless their technician is
    absent), and publishes; then the phone sends. Off for a day, Tea Tech keeps the visit
    on a later day: the outcome lands on it (worked on its first day). Off for the week,
    nobody within reach can take it: a conflict, kept for the lead."""
    world = make_world(client, session)
    plans.publish(session, plan_id=plan_now(session, sessions, world.campaign_id), actor="lead")
    session.commit()
    visit = world.visits["SB1"]
    day, technician = session.execute(
        select(PlanRoute.day, PlanRoute.technician_id)
        .join(PlanStop, PlanStop.route_id == PlanRoute.id)
        .join(FieldPlan, FieldPlan.id == PlanStop.plan_id)
        .where(PlanStop.visit_request_id == visit, FieldPlan.status == "published")
    ).one()
    assert session.get_one(Technician, technician).technician_key == "T1"
    field_clock.set(datetime(day.year, day.month, day.day, 9, tzinfo=ZoneInfo("Europe/Helsinki")))

    absent = client.post(
        "/api/v1/absences",
        json={
            "technician_key": "T1",
            "first_day": day.isoformat(),
            "last_day": (day + timedelta(days=absent_days - 1)).isoformat(),
        },
        headers=h(world.keys.lead),
    )
    assert absent.status_code == 201, absent.text
    replan = replan_now(session, sessions, world.campaign_id, today=day)
    plans.publish(session, plan_id=replan, actor="lead")
    session.commit()
    moved = session.get_one(VisitRequest, visit)

    sent = outcome(
        client, world.keys.technician, visit, "UB1", "fixed", day=day.isoformat(), note="done"
    )
    kept = client.get("/api/v1/inbox?kind=field_conflict", headers=h(world.keys.lead)).json()
    if absent_days == 1:
        assert (moved.status, moved.technician_id) == ("scheduled", technician)
        assert moved.scheduled_date is not None and moved.scheduled_date > day
        assert sent["http"] == 200 and outcome_events(session, "UB1") == ["fixed"]
        assert kept["total"] == 0
    else:
        assert moved.status == "requested"
        assert sent["http"] == 409 and sent["kept_for_lead"] is True
        assert sent["detail"] == (
            "the visit to Beta One is no longer on your route: it waits for a new date"
        )
        assert outcome_events(session, "UB1") == []
        assert [i["data"]["recorded"]["outcome"] for i in kept["items"]] == ["fixed"]
