"""The large-instance path on small, hand-checkable cases: the regret construction's
routes are feasible as they are, route-based decomposition only ever improves a plan,
and ``solve`` takes that path above its threshold."""

from __future__ import annotations

import numpy as np
import pytest

from routing.engine import search
from routing.engine.construct import construct
from routing.engine.decompose import improve
from routing.engine.model import precheck, vehicle_days
from routing.engine.problem import (
    INSUFFICIENT_CAPACITY,
    Break,
    CostWeights,
    Plan,
    Problem,
    Route,
    Stop,
    TimeWindow,
    Unassigned,
)
from routing.engine.solver import SolverOptions, constructed_plan
from routing.engine.validator import validate
from tests.routing.engine.line import problem, tech, visit


def test_the_construction_packs_a_day_around_its_lunch_and_leaves_out_what_cannot_fit():
    # Shift 0..200 with lunch 30 to start in 90..110; visits of 40 at x=10, 20 and 30.
    # Out, three visits, the lunch and back take 30 + 120 + 30 + 30 = 210 > 200: one
    # visit stays out, and the two served leave room for the lunch in its window.
    lunch = Break(30, TimeWindow(90, 110))
    p = problem(
        [visit(v, x, service=40) for v, x in (("a", 10), ("b", 20), ("c", 30))],
        [tech(shift=TimeWindow(0, 200), lunch=lunch)],
    )
    matrix = p.travel.matrix(p.locations())
    vehicles = vehicle_days(p)
    allowed, _ = precheck(p, vehicles)
    routes = construct(p, matrix, vehicles, allowed)
    assert len(routes) == 1 and len(routes[0]) == 2
    plan = constructed_plan(p, matrix, 5.0)
    assert validate(p, plan, check_drive_time=True) == []
    assert [u.reason for u in plan.unassigned] == [INSUFFICIENT_CAPACITY]
    route = plan.routes[0]
    assert route.break_start is not None and 90 <= route.break_start <= 110


def test_the_construction_takes_lunch_while_waiting_for_a_window_and_keeps_the_day():
    # Out at 0, there at 50, lunch in 100..200 during the wait, service from 400: day 0,
    # since a day later costs lateness and saves nothing.
    p = problem(
        [visit("late", 50, windows=(TimeWindow(400, 420),))],
        [tech(lunch=Break(30, TimeWindow(100, 200)))],
        days=2,
    )
    plan = constructed_plan(p, p.travel.matrix(p.locations()), 5.0)
    assert validate(p, plan, check_drive_time=True) == []
    assert plan.assignment() == {"late": ("t1", 0)}
    route = plan.routes[0]
    assert route.stops[0].start >= 400
    assert route.break_start is not None and 100 <= route.break_start <= 200


def through(tid: str, x0: float, stops: list[tuple[str, float]]) -> Route:
    """A route on the line from x0 through the visits (service 10), times as driven."""
    at, x, out = 0.0, x0, []
    for vid, vx in stops:
        at += abs(vx - x)
        out.append(Stop(vid, int(at), int(at), int(at) + 10))
        at, x = at + 10, vx
    return Route(tid, 0, 0, tuple(out), int(at + abs(x0 - x)))


def crossed() -> tuple[Problem, Plan]:
    """Two technicians at x=-100 and x=100, two visits near each, each technician sent
    to the other's visits."""
    p = problem(
        [visit("w1", -90), visit("w2", -80), visit("e1", 80), visit("e2", 90)],
        [tech("west", x=-100), tech("east", x=100)],
        costs=CostWeights(unassigned=10_000, lateness_per_day=0),
    )
    plan = Plan(
        (
            through("west", -100, [("e1", 80), ("e2", 90)]),
            through("east", 100, [("w2", -80), ("w1", -90)]),
        ),
        (),
        0,
    )
    return p, plan


def test_decomposition_uncrosses_two_technicians_routes():
    p, plan = crossed()
    matrix = p.travel.matrix(p.locations())
    assert validate(p, plan, matrix) == []
    better = improve(p, plan, SolverOptions(), matrix=matrix, seconds=5.0)
    assert validate(p, better, matrix, check_drive_time=True) == []
    assert {v: t for v, (t, _) in better.assignment().items()} == {
        "w1": "west",
        "w2": "west",
        "e1": "east",
        "e2": "east",
    }
    assert better.drive_time == 2 * (10 + 10 + 20)  # out to the far one, back from the near


def test_decomposition_keeps_a_plan_it_cannot_improve():
    p = problem([visit("a", 10), visit("b", 20)], [tech()])
    matrix = p.travel.matrix(p.locations())
    best = Plan((through("t1", 0, [("a", 10), ("b", 20)]),), (), 40)
    assert validate(p, best, matrix, check_drive_time=True) == []
    again = improve(p, best, SolverOptions(), matrix=matrix, seconds=2.0)
    assert again.routes == best.routes and again.drive_time == 40


def test_decomposition_serves_a_left_out_visit_when_there_is_room():
    p = problem([visit("a", 10), visit("b", 12)], [tech()])
    matrix = p.travel.matrix(p.locations())
    partial = Plan((through("t1", 0, [("a", 10)]),), (Unassigned("b", INSUFFICIENT_CAPACITY),), 20)
    better = improve(p, partial, SolverOptions(), matrix=matrix, seconds=5.0)
    assert validate(p, better, matrix, check_drive_time=True) == []
    assert set(better.assignment()) == {"a", "b"} and better.unassigned == ()


def test_solve_above_the_threshold_constructs_and_decomposes(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(search, "DECOMPOSE_ABOVE", 5)
    rng = np.random.default_rng(2)
    xs = np.concatenate([rng.uniform(-60, -20, 8), rng.uniform(20, 60, 8)])
    p = problem(
        [visit(f"v{i}", float(x)) for i, x in enumerate(xs)],
        [tech("west", x=-40), tech("east", x=40)],
        days=2,
    )
    plan = search.solve(p, SolverOptions(time_limit_s=4.0))
    assert validate(p, plan, check_drive_time=True) == []
    assert len(plan.assignment()) == 16 and plan.unassigned == ()
    # Each technician keeps to his side.
    assert all((x < 0) == (plan.assignment()[f"v{i}"][0] == "west") for i, x in enumerate(xs))
