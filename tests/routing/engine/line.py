"""Tiny hand-checkable instances on a line: node k sits at x = k (Euclidean, scale 1)."""

from __future__ import annotations

from routing.engine.problem import (
    CostWeights,
    Horizon,
    Location,
    Problem,
    Technician,
    TimeWindow,
    Visit,
)
from routing.engine.solver import SolverOptions
from routing.engine.travel import EuclideanProvider

# Deterministic and quick: stop after a fixed number of improving solutions.
FAST = SolverOptions(time_limit_s=2.0, solution_limit=50, metaheuristic="GUIDED_LOCAL_SEARCH")


def at(x: float, y: float = 0.0) -> Location:
    return Location.xy(x, y)


def tech(tid: str = "t1", x: float = 0.0, **kw: object) -> Technician:
    kw.setdefault("shift", TimeWindow(0, 1000))
    return Technician(id=tid, start=at(x), **kw)  # type: ignore[arg-type]


def visit(vid: str, x: float, service: int = 10, **kw: object) -> Visit:
    return Visit(id=vid, location=at(x), service=service, **kw)  # type: ignore[arg-type]


def problem(visits: list[Visit], techs: list[Technician], days: int = 1, **kw: object) -> Problem:
    return Problem(
        visits=tuple(visits),
        technicians=tuple(techs),
        horizon=Horizon(num_days=days, day_length=1440),
        travel=EuclideanProvider(scale=1.0, truncate=True),
        costs=kw.pop("costs", CostWeights(unassigned=10_000, lateness_per_day=30)),  # type: ignore[arg-type]
    )
