"""The visit day's progress as a partner sees it: planned, at an earlier stop, on the way
with an ETA from the previous stop's recorded finish, here, done; hand-made days, then
one route worked through the technician's workflow."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from routing.plans.progress import DayProgress, StopFacts, progress_of, visit_day_progress
from routing.sheets.service import finish_stop, record_outcome, start_stop
from tests.recall.campaigns.fixtures import declare, load_recall_registry
from tests.routing.plans.fixtures import DAY, at, publish_by_hand


def t(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 3, hour, minute, tzinfo=UTC)


# A at 8:30-9:25, B at 9:40-10:15 (15 minutes' drive), C at 10:40-11:00 (25 minutes).
A = StopFacts(1, "planned", t(8, 20), t(8, 30), t(9, 25), 20, None, None)
B = StopFacts(2, "planned", t(9, 40), t(9, 40), t(10, 15), 15, None, None)
C = StopFacts(3, "planned", t(10, 40), t(10, 40), t(11), 25, None, None)


def started(s: StopFacts, when: datetime) -> StopFacts:
    return dataclasses.replace(s, status="started", started_at=when)


def finished(s: StopFacts, when: datetime) -> StopFacts:
    return dataclasses.replace(s, status="finished", started_at=s.service_start, finished_at=when)


def test_nothing_recorded_yet_is_the_planned_arrival() -> None:
    assert progress_of([A, B, C], 2) == DayProgress("planned", t(10, 40), None, 2)
    assert progress_of([A, B, C], 0) == DayProgress("planned", t(8, 20), None, 0)


def test_an_earlier_stop_late_moves_the_eta_by_its_delay_never_earlier() -> None:
    late = progress_of([started(A, t(8, 45)), B, C], 2)
    assert late == DayProgress("earlier_stop", t(10, 55), t(8, 45), 2)
    early = progress_of([finished(A, t(9, 10)), B, C], 2)
    assert early == DayProgress("earlier_stop", t(10, 40), t(9, 10), 1)


def test_on_the_way_once_the_previous_stop_finished_with_the_drive_and_the_lunch() -> None:
    day = [finished(A, t(9, 10)), B, C]
    assert progress_of(day, 1) == DayProgress("on_the_way", t(9, 25), None, 0)
    day = [finished(A, t(9, 20)), finished(B, t(10, 30)), C]
    assert progress_of(day, 2) == DayProgress("on_the_way", t(10, 55), None, 0)
    # The plan has lunch on that leg (10:20, 30 minutes): it comes before the arrival.
    assert progress_of(day, 2, break_start=t(10, 20), break_minutes=30).eta == t(11, 25)
    # A lunch planned after the arrival is not on the way.
    assert progress_of(day, 2, break_start=t(11, 30), break_minutes=30).eta == t(10, 55)


def test_here_and_done() -> None:
    day = [finished(A, t(9)), finished(B, t(10)), started(C, t(10, 35))]
    assert progress_of(day, 2) == DayProgress("here", None, t(10, 35), 0)
    day[2] = finished(C, t(10, 58))
    assert progress_of(day, 2) == DayProgress("done", None, t(10, 58), 0)


def test_a_route_worked_through_the_workflow(client: TestClient, session: Session) -> None:
    # T1 on DAY: SA1 8:30-9:25, then SB1 (20 minutes' drive... 15 before SB1).
    keys = load_recall_registry(session)
    campaign = declare(client, keys.lead, batch_keys=["B1"])
    world = publish_by_hand(session, campaign["id"])
    sa1, sb1 = world.visits["SA1"], world.visits["SB1"]
    before = visit_day_progress(session, visit_ids=[sa1, sb1], day=DAY)
    assert before == {
        sa1: DayProgress("planned", at(8, 20), None, 0),
        sb1: DayProgress("planned", at(9, 40), None, 1),
    }
    start_stop(session, stop_id=world.stops["SA1"], technician_id=None, actor="test")
    for serial in ("UA1", "UA4"):
        record_outcome(
            session,
            stop_id=world.stops["SA1"],
            serial=serial,
            outcome="fixed",
            note=None,
            technician_id=None,
            actor="test",
        )
    finish_stop(session, stop_id=world.stops["SA1"], technician_id=None, actor="test")
    now = visit_day_progress(session, visit_ids=[sa1, sb1], day=DAY)
    assert now[sa1].state == "done" and now[sa1].since is not None
    assert now[sb1].state == "on_the_way"
    assert now[sb1].eta == now[sa1].since + (at(9, 40) - at(9, 25))  # + 15 minutes' drive
    # Another day, or a visit the published plan does not serve that day: nothing.
    assert visit_day_progress(session, visit_ids=[sa1], day=DAY.replace(day=4)) == {}
