"""One hand-checkable instance per constraint, every plan checked by the validator."""

from __future__ import annotations

import numpy as np

from routing.engine.problem import (
    CLOSED_EVERY_DAY,
    INSUFFICIENT_CAPACITY,
    NO_SKILLED_TECHNICIAN,
    NO_TECHNICIAN_AVAILABLE,
    PINNED_TECHNICIAN_UNAVAILABLE,
    Break,
    CostWeights,
    Plan,
    Problem,
    TimeWindow,
)
from routing.engine.solver import SolverOptions, solve
from routing.engine.validator import validate
from tests.routing.engine.line import at, problem, tech, visit


def run(p: Problem, options: SolverOptions) -> Plan:
    plan = solve(p, options)
    assert validate(p, plan, check_drive_time=True) == []
    return plan


def stop_of(plan: Plan, vid: str):
    return next((r, s) for r in plan.routes for s in r.stops if s.visit_id == vid)


def test_skills_route_each_visit_to_a_capable_technician(fast):
    p = problem(
        [visit("a", 10, skill="A"), visit("b", 10, skill="B")],
        [tech("t1", skills=frozenset({"A"})), tech("t2", skills=frozenset({"B"}))],
    )
    assert run(p, fast).assignment() == {"a": ("t1", 0), "b": ("t2", 0)}


def test_time_window_forces_the_farther_visit_first(fast):
    p = problem(
        [
            visit("near", 10, windows=(TimeWindow(200, 210),)),
            visit("far", 20, windows=(TimeWindow(50, 60),)),
        ],
        [tech()],
    )
    plan = run(p, fast)
    assert [s.visit_id for s in plan.routes[0].stops] == ["far", "near"]
    assert 200 <= stop_of(plan, "near")[1].start <= 210


def test_second_window_of_the_day_is_used_when_the_first_is_unreachable(fast):
    p = problem([visit("a", 100, windows=(TimeWindow(0, 5), TimeWindow(300, 310)))], [tech()])
    assert 300 <= stop_of(run(p, fast), "a")[1].start <= 310


def test_allowed_days_and_closed_days(fast):
    p = problem(
        [
            visit("only_day1", 10, days=frozenset({1})),
            visit("closed_day0", 12, day_windows={0: ()}),
        ],
        [tech()],
        days=2,
    )
    assert run(p, fast).assignment() == {"only_day1": ("t1", 1), "closed_day0": ("t1", 1)}


def test_pins_to_technician_day_and_time(fast):
    p = problem(
        [
            visit("a", 10, pin_technician="t2"),
            visit("b", 10, pin_day=1),
            visit("c", 10, pin_window=TimeWindow(500, 500)),
        ],
        [tech("t1"), tech("t2", x=50)],
        days=2,
    )
    plan = run(p, fast)
    assert plan.assignment()["a"][0] == "t2"
    assert plan.assignment()["b"][1] == 1
    assert stop_of(plan, "c")[1].start == 500


def test_lunch_break_is_taken_inside_its_window_without_overlapping_work(fast):
    lunch = Break(30, TimeWindow(100, 120))
    p = problem(
        [
            visit("a", 10, service=20, windows=(TimeWindow(90, 100),)),
            visit("b", 10, service=20, windows=(TimeWindow(110, 140),)),
        ],
        [tech(lunch=lunch)],
    )
    plan = run(p, fast)
    route = plan.routes[0]
    assert route.break_start is not None and 100 <= route.break_start <= 120
    b0, b1 = route.break_start, route.break_start + 30
    assert all(s.end <= b0 or s.start >= b1 for s in route.stops)
    assert len(route.stops) == 2


def test_max_working_minutes_limit_the_day(fast):
    visits = [visit("east", 40), visit("west", -40)]
    one_day = run(problem(visits, [tech(max_work=100)]), fast)
    assert len(one_day.unassigned) == 1
    assert one_day.unassigned[0].reason == INSUFFICIENT_CAPACITY
    two_days = run(problem(visits, [tech(max_work=100)], days=2), fast)
    assert {d for _, d in two_days.assignment().values()} == {0, 1}


def test_days_off_are_not_worked(fast):
    p = problem([visit("a", 10)], [tech(days_off=frozenset({0}))], days=2)
    plan = run(p, fast)
    assert [r.day for r in plan.routes] == [1]


def test_high_priority_goes_on_the_earlier_day(fast):
    # One visit per day fits; the priority-5 visit must take day 0.
    visits = [visit("low", 40, priority=1.0), visit("high", -40, priority=5.0)]
    plan = run(problem(visits, [tech(max_work=100)], days=2), fast)
    assert plan.assignment() == {"high": ("t1", 0), "low": ("t1", 1)}


def test_unvisited_penalty_keeps_the_high_priority_visit(fast):
    visits = [visit("low", 40, priority=1.0), visit("high", -40, priority=3.0)]
    plan = run(problem(visits, [tech(max_work=100)]), fast)
    assert set(plan.assignment()) == {"high"}


def test_visit_not_worth_its_drive_is_left_out(fast):
    p = problem([visit("far", 100)], [tech()], costs=CostWeights(unassigned=50))
    plan = run(p, fast)
    assert plan.routes == () and plan.unassigned[0].reason == INSUFFICIENT_CAPACITY


def test_unservable_visits_come_back_with_reasons_not_exceptions(fast):
    p = problem(
        [
            visit("ok", 10),
            visit("skill", 10, skill="Z"),
            visit("closed", 10, days=frozenset()),
            visit("pinned", 10, pin_technician="ghost"),
            visit("night", 10, windows=(TimeWindow(1200, 1300),)),
        ],
        [tech(shift=TimeWindow(0, 1000))],
    )
    plan = run(p, fast)
    reasons = {u.visit_id: u.reason for u in plan.unassigned}
    assert reasons == {
        "skill": NO_SKILLED_TECHNICIAN,
        "closed": CLOSED_EVERY_DAY,
        "pinned": PINNED_TECHNICIAN_UNAVAILABLE,
        "night": NO_TECHNICIAN_AVAILABLE,
    }
    assert set(plan.assignment()) == {"ok"}


def test_capacity_splits_the_load(fast):
    p = problem(
        [visit("a", 10, demand=6), visit("b", 11, demand=6)],
        [tech("t1", capacity=10), tech("t2", capacity=10)],
    )
    plan = run(p, fast)
    assert {t for t, _ in plan.assignment().values()} == {"t1", "t2"}


def test_same_configuration_gives_the_same_plan(fast):
    rng = np.random.default_rng(3)
    visits = [
        visit(f"v{i}", float(x), windows=(TimeWindow(int(s), int(s) + 200),))
        for i, (x, s) in enumerate(
            zip(rng.uniform(-50, 50, 30), rng.uniform(0, 600, 30), strict=True)
        )
    ]
    p = problem(visits, [tech("t1"), tech("t2", x=20)])
    for options in (fast, SolverOptions(time_limit_s=20.0, solution_limit=30)):
        first, second = run(p, options), run(p, options)
        assert first.routes == second.routes
        assert not first.unassigned


def test_portfolio_returns_a_valid_plan():
    p = problem([visit(f"v{i}", float(i * 3)) for i in range(8)], [tech()])
    plan = run(p, SolverOptions(time_limit_s=20.0, solution_limit=20, num_workers=2))
    assert len(plan.assignment()) == 8


def test_a_shorter_shift_on_one_day_moves_the_visit(fast):
    # Out and back to x=20 with 10 of service takes 50: too long for day 0's 30-unit shift.
    short_day0 = tech(day_shifts={0: TimeWindow(0, 30)})
    plan = run(problem([visit("a", 20)], [short_day0], days=2), fast)
    assert plan.assignment() == {"a": ("t1", 1)}
    route = plan.routes[0]
    assert route.departure >= 0 and route.arrival_home <= 1000


def test_route_ends_at_the_technicians_end_location(fast):
    p = problem([visit("a", 50)], [tech(end=at(100))])
    route = run(p, fast).routes[0]
    # 50 out to the visit, 10 of service, 50 on to the end location (not back to 0).
    assert route.arrival_home - route.departure == 110


def test_a_technician_without_a_working_day_gets_no_routes(fast):
    # t0 is off on both days; t1 works day 1 only. The visit at x=30 goes to t1 on
    # day 1 (30 out, 10 of service, 30 back), and the idle technician's home, at x=5,
    # is not a stop anybody must make.
    idle = tech("t0", x=5, days_off=frozenset({0, 1}))
    p = problem([visit("a", 30)], [idle, tech("t1", days_off=frozenset({0}))], days=2)
    plan = run(p, fast)
    assert plan.assignment() == {"a": ("t1", 1)}
    assert plan.unassigned == ()
    assert [(r.technician_id, r.day) for r in plan.routes] == [("t1", 1)]
    assert plan.drive_time == 60
