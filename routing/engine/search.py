"""The engine's entry point for a whole problem: small ones go to OR-Tools whole
(``routing.engine.solver``); large ones are built by the regret construction and then
improved by route-based decomposition (``routing.engine.decompose``), where OR-Tools
only ever sees a group of nearby routes.

On Gehring & Homberger's instances at 60 s the whole-problem search stayed close to its
first solution from 400 customers on (RC1_10_1: +35.8 % against VROOM's +5.6 %), while
100 customers are solved best whole (the Solomon tuning); ``DECOMPOSE_ABOVE`` sits in
between.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from routing.engine import solver
from routing.engine.decompose import improve
from routing.engine.model import Stability
from routing.engine.problem import Plan, Problem
from routing.engine.solver import SolverOptions, constructed_plan
from routing.engine.travel import PrecomputedMatrix

DECOMPOSE_ABOVE = 250


def solve(
    problem: Problem,
    options: SolverOptions | None = None,
    *,
    initial: Mapping[str, tuple[str, int, int]] | None = None,
    stability: Stability | None = None,
    unassigned_penalty: int | None = None,
    matrix: np.ndarray | None = None,
) -> Plan:
    """Plan ``problem``. Unservable visits come back in ``Plan.unassigned`` with a reason.

    ``initial`` (visit id -> technician id, day, position) seeds the search with an
    existing plan; ``stability`` charges moving a visit away from its previous
    technician-day; ``unassigned_penalty`` overrides the per-visit drop cost (benchmarks
    use a huge one to make every visit mandatory in practice). Above ``DECOMPOSE_ABOVE``
    visits a first plan is constructed and decomposed; ``options.num_workers``
    processes then each improve it in their own order and the best plan wins.
    """
    options = options or SolverOptions()
    large = len(problem.visits) > DECOMPOSE_ABOVE and initial is None and stability is None
    if not large:
        return solver.solve(
            problem,
            options,
            initial=initial,
            stability=stability,
            unassigned_penalty=unassigned_penalty,
            matrix=matrix,
        )
    t0 = time.monotonic()
    if matrix is None:
        matrix = np.asarray(problem.travel.matrix(problem.locations()), dtype=np.int64)
    workers = max(1, options.num_workers)
    if workers == 1:
        return _decomposed(problem, matrix, options, t0, 0, unassigned_penalty)
    light = dataclasses.replace(problem, travel=PrecomputedMatrix(matrix))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(_decomposed, light, matrix, options, t0, seed, unassigned_penalty)
            for seed in range(workers)
        ]
        plans = [f.result() for f in futures]
    best = min(range(len(plans)), key=lambda i: (-plans[i].served_count(), plans[i].objective, i))
    return plans[best]


def _decomposed(
    problem: Problem,
    matrix: np.ndarray,
    options: SolverOptions,
    t0: float,
    seed: int,
    unassigned_penalty: int | None,
) -> Plan:
    first = constructed_plan(problem, matrix, options.time_limit_s, unassigned_penalty)
    left = options.time_limit_s - (time.monotonic() - t0)
    return improve(
        problem,
        first,
        options,
        matrix=matrix,
        seconds=left,
        seed=seed,
        unassigned_penalty=unassigned_penalty,
    )
