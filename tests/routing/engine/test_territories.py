"""Splitting into territories still gives a complete, valid plan."""

from __future__ import annotations

import dataclasses

import numpy as np

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
