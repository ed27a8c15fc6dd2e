"""Splitting into territories still gives a complete, valid plan."""

from __future__ import annotations

import dataclasses

import numpy as np

from routing.engine.border import join
from routing.engine.problem import INSUFFICIENT_CAPACITY, Plan, Route, Stop, TimeWindow, Unassigned
from routing.engine.territories import solve_territories, split
from routing.engine.validator import validate
from tests.routing.engine.line import FAST, problem, tech, visit


def test_split_solve_and_repair_give_a_valid_plan():
    rng = np.random.default_rng(5)
    xs = np.concatenate([rng.uniform(-60, -30, 12), rng.uniform(30, 60, 12)])
    visits = [visit(f"v{i}", float(x), skill="A" if i % 5 else "B") for i, x in enumerate(xs)]
    techs = [
        tech("w1", x=-50, skills=frozenset({"A", "B"})),
        tech("w2", x=-40, skills=frozenset({"A"})),
        tech("e1", x=40, skills=frozenset({"A", "B"})),
        tech("e2", x=50, skills=frozenset({"A"})),
    ]
    p = problem(visits, techs, days=2)
    matrix = p.travel.matrix(p.locations())
    parts = split(p, 2, matrix=matrix)
    assert sorted(i for _, vs in parts for i in vs) == list(range(len(visits)))
    assert sorted(t for ts, _ in parts for t in ts) == [0, 1, 2, 3]
    assert {frozenset(ts) for ts, _ in parts} == {frozenset({0, 1}), frozenset({2, 3})}
    plan = solve_territories(p, dataclasses.replace(FAST, time_limit_s=4.0), territories=2)
    assert validate(p, plan, check_drive_time=True) == []
    assert len(plan.assignment()) + len(plan.unassigned) == len(visits)
    assert not plan.unassigned


def test_join_offers_a_visit_its_territory_had_no_room_for_to_the_neighbours():
    # West works 0..100: it can serve "w" (out 30, 10, back 30) but not "mid" as well;
    # its territory's plan left "mid" out. East, at x=60, has room and reaches it.
    p = problem(
        [visit("w", -30), visit("mid", 20), visit("e", 70)],
        [tech("west", x=0, shift=TimeWindow(0, 100)), tech("east", x=60)],
    )
    west = Plan(
        (Route("west", 0, 0, (Stop("w", 30, 30, 40),), 70),),
        (Unassigned("mid", INSUFFICIENT_CAPACITY),),
        60,
    )
    east = Plan((Route("east", 0, 0, (Stop("e", 10, 10, 20),), 30),), (), 20)
    joined = join(p, [west, east], dataclasses.replace(FAST, time_limit_s=4.0))
    assert validate(p, joined, check_drive_time=True) == []
    assert joined.unassigned == ()
    assert joined.assignment() == {"w": ("west", 0), "mid": ("east", 0), "e": ("east", 0)}


def test_split_sends_each_visit_to_the_nearest_technician_with_room():
    # Three technicians in a row with a day each, three visits next to the middle one:
    # each technician's quota is a third of the work (and 10 % more), so the middle one
    # takes the visit nearest to him; m1 (whose second choice is nearer than m2's) goes
    # to the nearer neighbour, east, and m2, finding east full too, to west.
    p = problem(
        [visit("m0", 100), visit("m1", 101), visit("m2", 102)],
        [tech("west", x=0), tech("mid", x=100), tech("east", x=200)],
    )
    parts = split(p, 3)
    owner = {p.visits[i].id: p.technicians[ts[0]].id for ts, vs in parts for i in vs}
    assert owner == {"m0": "mid", "m1": "east", "m2": "west"}
    assert all(len(ts) == 1 for ts, _ in parts)
