"""Campaign visits -> routing problem, on hand-checkable cases (no database): time zones,
opening hours, blocked dates, preferred windows, skills, workdays, absences, lunch,
priorities, deadlines and promised windows.

The calendar: Monday 2026-11-30 .. Sunday 2026-12-06, planned in Helsinki time (UTC+2);
Stockholm is UTC+1, so a Stockholm 08:00 is 09:00 in the plan.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from recall.campaigns.planning import PreferredWindow, VisitForPlanning
from routing.engine.problem import Plan, TimeWindow, Unassigned
from routing.engine.travel import HaversineProvider
from routing.plans.outcome import OUT_OF_REACH, explain_unassigned
from routing.plans.problem import (
    Calendar,
    PlanRules,
    TechnicianInput,
    build_problem,
    priority_of,
    start_windows,
)
from tests.routing.engine.line import problem as line_problem
from tests.routing.engine.line import tech as line_tech
from tests.routing.engine.line import visit as line_visit

CAL = Calendar(date(2026, 11, 30), date(2026, 12, 6), "Europe/Helsinki")
RULES = PlanRules(timezone="Europe/Helsinki")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def visit(**kw: object) -> VisitForPlanning:
    fields: dict[str, object] = {
        "visit_id": 1,
        "site_id": 10,
        "site_key": "S1",
        "site_name": "Site",
        "partner_key": "P",
        "lat": 65.0,
        "lon": 25.5,
        "timezone": "Europe/Stockholm",
        "opening_hours": "Mo-Fr 08:00-17:00",
        "estimated_minutes": 60,
        "unit_count": 2,
        "priority_rank": 1,
        "required_skill": "OU-200",
        "blocked_dates": (),
        "preferred_windows": (),
        "status": "requested",
        "scheduled_date": None,
        "window_start": None,
        "window_end": None,
        "technician_id": None,
        "confirmed": False,
        "units_open": 2,
        "units_in_progress": 0,
        "units_final": 0,
    }
    fields.update(kw)
    return VisitForPlanning(**fields)  # type: ignore[arg-type]


def tech(**kw: object) -> TechnicianInput:
    fields: dict[str, object] = {
        "id": 7,
        "key": "T1",
        "name": "Tea",
        "lat": 65.0,
        "lon": 25.4,
        "skills": ("OU-200",),
        "shift_start": time(8, 0),
        "shift_end": time(16, 30),
        "workdays": "Tu-Sa",
    }
    fields.update(kw)
    return TechnicianInput(**fields)  # type: ignore[arg-type]


def test_opening_hours_move_to_the_planning_zone_and_leave_room_for_the_service() -> None:
    v = visit()
    # Stockholm 08:00-17:00 = Helsinki 09:00-18:00; a 60-minute job starts by 17:00.
    assert start_windows(v, CAL, MON) == (TimeWindow(9 * 60, 17 * 60),)
    assert start_windows(v, CAL, SAT) == ()
    helsinki = visit(timezone="Europe/Helsinki", opening_hours="Mo-Fr 07:00-09:30")
    assert start_windows(helsinki, CAL, TUE) == (TimeWindow(7 * 60, 8 * 60 + 30),)
    # A span too short for the job is no window at all.
    short = visit(timezone="Europe/Helsinki", opening_hours="Mo 10:00-10:30")
    assert start_windows(short, CAL, MON) == ()
    # Always open: the whole planning day, minus the job's length at its end.
    always = visit(opening_hours=None, timezone="Europe/Helsinki")
    assert start_windows(always, CAL, SUN) == (TimeWindow(0, 23 * 60),)


def test_blocked_dates_and_preferred_windows() -> None:
    blocked = visit(blocked_dates=(date(2026, 12, 1),))
    assert start_windows(blocked, CAL, TUE) == ()
    assert start_windows(blocked, CAL, WED) == (TimeWindow(540, 1020),)
    # Preferred 10:00-12:00 Stockholm = 11:00-13:00 in the plan, every day: the hour-long
    # visit lies inside it, so it starts 11:00..12:00.
    every_day = visit(preferred_windows=(PreferredWindow(None, time(10), time(12)),))
    assert start_windows(every_day, CAL, THU) == (TimeWindow(660, 720),)
    # A dated preference replaces the undated one on its date.
    dated = visit(
        preferred_windows=(
            PreferredWindow(None, time(10), time(12)),
            PreferredWindow(date(2026, 12, 2), time(14), time(15)),
        )
    )
    assert start_windows(dated, CAL, WED) == (TimeWindow(15 * 60, 15 * 60),)
    assert start_windows(dated, CAL, THU) == (TimeWindow(660, 720),)
    # Only dated preferences: the partner offered those dates and no others (07:00-09:00
    # Stockholm; the site opens at 08:00 Stockholm, so the visit starts at 08:00 sharp).
    only_dated = visit(preferred_windows=(PreferredWindow(date(2026, 12, 3), time(7), time(9)),))
    assert start_windows(only_dated, CAL, THU) == (TimeWindow(9 * 60, 9 * 60),)
    assert start_windows(only_dated, CAL, FRI) == ()
    # A window shorter than the visit allows no start at all.
    short = visit(preferred_windows=(PreferredWindow(None, time(10), time(10, 30)),))
    assert start_windows(short, CAL, THU) == ()


def test_a_preferred_window_holds_the_whole_visit() -> None:
    # The case: 10:00-14:00 preferred, a job of 3 h 35 min (it was planned
    # 11:30-15:05). It may start 10:00..10:25 local (11:00..11:25 in Helsinki time), so
    # it ends by 14:00.
    job = visit(
        estimated_minutes=215,
        preferred_windows=(PreferredWindow(None, time(10), time(14)),),
    )
    assert start_windows(job, CAL, THU) == (TimeWindow(660, 685),)
    latest = start_windows(job, CAL, THU)[0].end
    assert latest + 215 == CAL.local_minutes(THU, time(14), "Europe/Stockholm")


def test_problem_days_technicians_skills_absences_lunch_priorities_deadline() -> None:
    visits = [
        visit(visit_id=1, priority_rank=1),
        visit(visit_id=2, site_id=11, priority_rank=3, estimated_minutes=35),
    ]
    problem = build_problem(
        visits=visits,
        technicians=[tech()],
        cal=CAL,
        rules=RULES,
        travel=HaversineProvider(),
        deadline=date(2026, 12, 3),
        absences={7: frozenset({date(2026, 12, 2)})},
        closures={11: frozenset({date(2026, 12, 1)})},
    )
    assert problem.horizon.num_days == 7
    [t] = problem.technicians
    # Tu-Sa workdays, absent on Wednesday: Mo, We and Su are off.
    assert t.days_off == frozenset({MON, WED, SUN})
    assert t.shift_on(TUE) == TimeWindow(480, 990)
    assert t.skills == frozenset({"OU-200"})
    # 30 minutes of lunch inside 11:00-13:00: it starts by 12:30.
    assert t.lunch is not None and (t.lunch.duration, t.lunch.window) == (30, TimeWindow(660, 750))
    first, second = problem.visits
    assert (first.id, first.service, first.skill) == ("1", 60, "OU-200")
    assert (first.priority, second.priority) == (2.0, 1.0)
    assert first.latest_day == second.latest_day == THU
    # Site 11 is closed on Tuesday, site 10 is not.
    assert second.windows_on(TUE) == ()
    assert first.windows_on(TUE) == (TimeWindow(540, 1020),)
    assert second.windows_on(WED) == (TimeWindow(540, 1045),)


def test_priority_rank_one_weighs_most() -> None:
    assert priority_of(1, 5) == 2.0
    assert priority_of(5, 5) == 1.0
    assert priority_of(3, 5) == 1.5
    assert priority_of(1, 1) == 2.0


def test_a_promised_window_binds_its_day_only() -> None:
    # Promised Thursday 11:00-13:00 Helsinki (09:00-11:00 UTC).
    promised = visit(
        status="scheduled",
        scheduled_date=date(2026, 12, 3),
        window_start=datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
        window_end=datetime(2026, 12, 3, 11, 0, tzinfo=UTC),
    )
    problem = build_problem(
        visits=[promised],
        technicians=[tech()],
        cal=CAL,
        rules=RULES,
        travel=HaversineProvider(),
        deadline=None,
    )
    [v] = problem.visits
    assert v.windows_on(THU) == (TimeWindow(660, 780),)
    assert v.windows_on(FRI) == (TimeWindow(540, 1020),)
    assert v.latest_day == 0


def test_calendar_round_trip_over_a_dst_change() -> None:
    # Europe/Helsinki leaves summer time on 2026-10-25: that day has 25 hours.
    cal = Calendar(date(2026, 10, 24), date(2026, 10, 26), "Europe/Helsinki")
    assert cal.local_minutes(1, time(12, 0), "Europe/Helsinki") == 13 * 60
    assert cal.local_minutes(2, time(12, 0), "Europe/Helsinki") == 12 * 60
    instant = cal.instant(1, 13 * 60)
    assert instant == datetime(2026, 10, 25, 10, 0, tzinfo=UTC)
    assert cal.minutes(1, instant) == 13 * 60


def test_visits_no_technician_day_could_serve_alone_are_out_of_reach() -> None:
    # Home at 0, shift 0..100 with no lunch: 30 out, 10 on site, 30 back fits; 60 does not.
    p = line_problem(
        [line_visit("near", 30), line_visit("far", 60)],
        [line_tech("t1", shift=TimeWindow(0, 100))],
    )
    matrix = p.travel.matrix(p.locations())
    solver_said = Plan(
        (),
        (Unassigned("near", "insufficient_capacity"), Unassigned("far", "insufficient_capacity")),
        0,
    )
    explained = explain_unassigned(p, solver_said, matrix)
    assert [(u.visit_id, u.reason) for u in explained.unassigned] == [
        ("near", "insufficient_capacity"),
        ("far", OUT_OF_REACH),
    ]
