"""The validator flags each kind of violation on hand-made plans."""

from __future__ import annotations

import dataclasses

import pytest

from routing.engine.problem import Break, Plan, Route, Stop, TimeWindow, Unassigned
from routing.engine.validator import validate
from tests.routing.engine.line import problem, tech, visit

# Tech at x=0, visits at x=10 and x=20 (travel 10 each leg), service 10.
P = problem(
    [visit("a", 10, windows=(TimeWindow(10, 50),), skill="S"), visit("b", 20, demand=3)],
    [
        tech(
            "t1",
            skills=frozenset({"S"}),
            capacity=5,
            max_work=200,
            lunch=Break(20, TimeWindow(100, 150)),
        )
    ],
    days=2,
)
GOOD = Plan(
    routes=(
        Route(
            "t1",
            0,
            departure=0,
            arrival_home=120,
            stops=(Stop("a", 10, 10, 20), Stop("b", 30, 30, 40)),
            break_start=100,
        ),
    ),
    unassigned=(),
    drive_time=40,
)


def kinds(plan: Plan, p=P) -> set[str]:
    return {v.kind for v in validate(p, plan, check_drive_time=True)}


def with_stops(*stops: Stop, **kw: object) -> Plan:
    route = dataclasses.replace(GOOD.routes[0], stops=stops, **kw)
    return dataclasses.replace(GOOD, routes=(route,))


def test_good_plan_is_valid():
    assert validate(P, GOOD, check_drive_time=True) == []
    # Without the check, a plan that does not know its drive time is still valid.
    assert validate(P, dataclasses.replace(GOOD, drive_time=0)) == []


@pytest.mark.parametrize(
    ("plan", "kind"),
    [
        (with_stops(Stop("a", 10, 10, 20)), "missing"),
        (
            with_stops(Stop("a", 10, 10, 20), Stop("b", 30, 30, 40), Stop("b", 50, 50, 60)),
            "served_twice",
        ),
        (dataclasses.replace(GOOD, unassigned=(Unassigned("a", "x"),)), "served_and_unassigned"),
        (with_stops(Stop("a", 60, 60, 70), Stop("b", 80, 80, 90)), "time_window"),
        (with_stops(Stop("a", 10, 10, 20), Stop("b", 25, 25, 35)), "travel"),
        (with_stops(Stop("a", 10, 10, 15), Stop("b", 30, 30, 40)), "service"),
        (with_stops(Stop("a", 10, 10, 20), Stop("b", 30, 30, 40), break_start=None), "break"),
        (with_stops(Stop("a", 10, 10, 20), Stop("b", 30, 30, 40), break_start=160), "break"),
        # Break 100..120 overlapping b's service at 110.
        (with_stops(Stop("a", 10, 10, 20), Stop("b", 110, 110, 120), break_start=100), "break"),
        (with_stops(Stop("a", 10, 10, 20), Stop("b", 30, 30, 40), arrival_home=1100), "shift"),
        (with_stops(Stop("a", 10, 10, 20), Stop("b", 30, 30, 40), arrival_home=400), "max_work"),
        (with_stops(Stop("a", 10, 10, 20), Stop("b", 30, 30, 40), day=5), "day"),
        (dataclasses.replace(GOOD, drive_time=39), "drive_time"),
    ],
)
def test_each_violation_is_caught(plan: Plan, kind: str):
    assert kind in kinds(plan)


def test_skill_capacity_pins_and_days_are_checked():
    p = dataclasses.replace(
        P,
        visits=(
            dataclasses.replace(P.visits[0], pin_technician="t9"),
            dataclasses.replace(P.visits[1], demand=9, pin_day=1, days=frozenset({1})),
        ),
        technicians=(dataclasses.replace(P.technicians[0], skills=frozenset()),),
    )
    assert {"skill", "capacity", "pin_technician", "pin_day"} <= kinds(GOOD, p)


def test_day_off_route_is_rejected():
    p = dataclasses.replace(
        P, technicians=(dataclasses.replace(P.technicians[0], days_off=frozenset({0})),)
    )
    assert "day_off" in kinds(GOOD, p)


def test_without_a_matrix_each_route_is_checked_on_its_own_travel_times():
    matrix = P.travel.matrix(P.locations())
    assert validate(P, GOOD, check_drive_time=True) == []
    assert validate(P, GOOD, matrix, check_drive_time=True) == []
    # b reached 5 units too early: caught the same way with and without the matrix.
    early = with_stops(Stop("a", 10, 10, 20), Stop("b", 25, 25, 35))
    assert validate(P, early) == validate(P, early, matrix)
    assert "travel" in {v.kind for v in validate(P, early)}
