"""A solution whose lunch break is not fixed is never read (OR-Tools would abort the
whole process on it): the search falls back to OR-Tools' first solution instead."""

from __future__ import annotations

import numpy as np
import pytest

from routing.engine import solver
from routing.engine.model import build_model, precheck, vehicle_days
from routing.engine.problem import Break, Problem, TimeWindow
from routing.engine.solver import SolverOptions, readable
from routing.engine.validator import validate
from tests.routing.engine.line import problem, tech, visit


def lunch_day() -> Problem:
    lunch = Break(30, TimeWindow(60, 400))
    return problem(
        [visit(v, x, service=40) for v, x in (("a", 10), ("b", 20), ("c", 30))],
        [tech(shift=TimeWindow(0, 600), lunch=lunch)],
    )


def test_a_solution_with_its_lunch_break_not_fixed_is_refused():
    p = lunch_day()
    matrix = np.asarray(p.travel.matrix(p.locations()), dtype=np.int64)
    vehicles = vehicle_days(p)
    allowed, _ = precheck(p, vehicles)
    model = build_model(p, matrix, allowed, vehicles, None, None)
    brk = model.breaks[0]
    model.routing.AddIntervalToAssignment(brk)
    options = SolverOptions(solution_limit=1, metaheuristic="GREEDY_DESCENT")
    solution = model.routing.SolveWithParameters(solver.search_parameters(options, 2.0))
    assert solution is not None and readable(model, solution) is solution
    unfixed = model.routing.solver().Assignment(solution)
    unfixed.SetStartRange(brk, 60, 400)
    assert readable(model, unfixed) is None
    assert readable(model, None) is None


def test_a_search_whose_solution_cannot_be_read_falls_back_to_a_first_solution(
    monkeypatch: pytest.MonkeyPatch,
):
    refused: list[object] = []
    real = solver.readable

    def refuse_the_search(model, solution):  # type: ignore[no-untyped-def]
        if not refused:
            refused.append(solution)
            return None
        return real(model, solution)

    monkeypatch.setattr(solver, "readable", refuse_the_search)
    p = lunch_day()
    plan = solver.solve(p, SolverOptions(time_limit_s=2.0))
    assert len(refused) == 1 and refused[0] is not None
    assert validate(p, plan, check_drive_time=True) == []
    assert plan.served_count() == 3 and plan.routes[0].break_start is not None
