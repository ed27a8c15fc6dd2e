"""Solve a routing Problem with OR-Tools and return a Plan.

The default search is OR-Tools' iterated local search with SISR ruin-and-recreate
(Christiaens & Vanden Berghe) and simulated-annealing acceptance; on Solomon it beats
guided local search clearly at equal time. With ``num_workers > 1`` a small portfolio
of differently started searches runs in parallel processes and the best plan wins.
"""

from __future__ import annotations

import dataclasses
import time as _time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import (
    pywrapcp,
    routing_enums_pb2,
    routing_heuristic_parameters_pb2,
)
from ortools.util import optional_boolean_pb2

from routing.engine.construct import construct
from routing.engine.model import Model, Stability, build_model, precheck, vehicle_days
from routing.engine.problem import INSUFFICIENT_CAPACITY, Plan, Problem, Route, Stop, Unassigned
from routing.engine.travel import PrecomputedMatrix

ILS = "ITERATED_LOCAL_SEARCH"
# The engine's own construction (routing.engine.construct), read into the model as the
# first solution; any other name is an OR-Tools FirstSolutionStrategy.
REGRET_INSERTION = "REGRET_INSERTION"
# How much the construction charges for pushing later stops back, per unit of drive, on
# multi-day plans where technicians' days are the scarce thing: on the 400-visit, 10-day
# field instance 0.3 routed 383 visits against 371 at 0 (pure drive) and 382 at 1. On a
# single day with a large fleet (Gehring & Homberger) pure drive builds better routes:
# RC1_10_1 starts at +45 % at 0 against +61 % at 0.3.
CONSTRUCT_TIME_WEIGHT = 0.3


@dataclass(frozen=True)
class SolverOptions:
    """Search configuration. ``time_limit_s`` is wall time for the whole call.

    With ``solution_limit`` set (and a generous time limit) results are deterministic.
    ``num_workers`` processes each run one entry of the portfolio; worker 0 always uses
    ``first_solution`` and ``metaheuristic`` as given.
    """

    time_limit_s: float = 10.0
    solution_limit: int | None = None
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION"
    metaheuristic: str = ILS
    num_workers: int = 1
    gls_lambda: float = 0.1
    sisr_removed_visits: int = 20
    sisr_max_sequence: int = 15
    recreate_order: str | None = None
    log_search: bool = False


# Overrides for portfolio workers 1.. (worker 0 runs the options as given). On Solomon
# single runs differ a lot from one another, so the best of two runs is steadier than
# either; the second worker reinserts ruined visits in random order instead of OR-Tools'
# default order, which makes its trajectory differ without making it weaker (larger
# SISR ruins, tried first, were clearly weaker at 10 s).
PORTFOLIO: tuple[dict[str, object], ...] = (
    {"recreate_order": "SORTING_PROPERTY_RANDOM"},
    {"first_solution": "LOCAL_CHEAPEST_INSERTION"},
    {"first_solution": "PARALLEL_CHEAPEST_INSERTION", "metaheuristic": "GUIDED_LOCAL_SEARCH"},
)


# Local search operators switched off. The path-rebuilding LNS operators run an
# insertion heuristic under a 100 ms limit per call and the shortest-path and chain
# operators chase long sequences; after every ruin-and-recreate step they took most of
# the improvement time, so a 10 s search ran only a handful of iterations. Without them
# the Solomon tuning subset (12 R/RC instances, 10 s, one process) went from 3.5 % to
# 1.9 % mean gap. None of them serves a constraint this model uses (no pickup and
# delivery pairs, no visit types).
SLOW_OPERATORS = (
    "use_global_cheapest_insertion_path_lns",
    "use_local_cheapest_insertion_path_lns",
    "use_relocate_path_global_cheapest_insertion_insert_unperformed",
    "use_global_cheapest_insertion_visit_types_lns",
    "use_local_cheapest_insertion_visit_types_lns",
    "use_shortest_path_swap_active",
    "use_swap_active_chain",
    "use_shortest_path_two_opt",
)


def search_parameters(options: SolverOptions, seconds: float, *, seeded: bool = False) -> object:
    """OR-Tools search parameters for ``options`` with ``seconds`` of search.

    ``seeded``: the search starts from a given solution. OR-Tools 9.15 runs its
    iterated local search only from a first solution of its own, so a seeded search
    uses guided local search instead; and the seed is restored under the LNS time
    limit (100 ms by default), which a 400-visit multi-day seed with breaks exceeds, so
    the restore silently failed: the limit becomes the search time.
    """
    params = pywrapcp.DefaultRoutingSearchParameters()
    for name in SLOW_OPERATORS:
        setattr(params.local_search_operators, name, optional_boolean_pb2.BOOL_FALSE)
    if options.first_solution != REGRET_INSERTION:
        params.first_solution_strategy = getattr(
            routing_enums_pb2.FirstSolutionStrategy, options.first_solution
        )
    metaheuristic = options.metaheuristic
    if seeded:
        params.lns_time_limit.FromMilliseconds(max(100, int(seconds * 1000)))
        if metaheuristic == ILS:
            metaheuristic = "GUIDED_LOCAL_SEARCH"
    if metaheuristic != ILS:
        params.local_search_metaheuristic = getattr(
            routing_enums_pb2.LocalSearchMetaheuristic, metaheuristic
        )
        params.guided_local_search_lambda_coefficient = options.gls_lambda
    else:
        ils = params.iterated_local_search_parameters
        rr = ils.ruin_recreate_parameters
        del rr.ruin_strategies[:]
        sisr = rr.ruin_strategies.add().sisr
        sisr.max_removed_sequence_size = options.sisr_max_sequence
        sisr.avg_num_removed_visits = options.sisr_removed_visits
        sisr.bypass_factor = 0.01
        if options.recreate_order is not None:
            lci = rr.recreate_strategy.parameters.local_cheapest_insertion
            lci.insertion_sorting_properties.append(
                getattr(
                    routing_heuristic_parameters_pb2.LocalCheapestInsertionParameters,
                    options.recreate_order,
                )
            )
        sa = ils.reference_solution_acceptance_strategy.simulated_annealing
        sa.automatic_temperatures = True
    params.time_limit.FromMilliseconds(max(1, int(seconds * 1000)))
    if options.solution_limit is not None:
        params.solution_limit = options.solution_limit
    params.log_search = options.log_search
    return params


def solve(
    problem: Problem,
    options: SolverOptions | None = None,
    *,
    initial: Mapping[str, tuple[str, int, int]] | None = None,
    stability: Stability | None = None,
    unassigned_penalty: int | None = None,
    matrix: np.ndarray | None = None,
) -> Plan:
    """``problem`` searched whole by OR-Tools (a portfolio of ``options.num_workers``
    processes); the arguments are those of ``routing.engine.search.solve``, the entry
    point, which hands large problems to the decomposition instead."""
    options = options or SolverOptions()
    t0 = _time.monotonic()
    if matrix is None:
        matrix = np.asarray(problem.travel.matrix(problem.locations()), dtype=np.int64)
    workers = max(1, options.num_workers)
    variants = (
        [options]
        + [
            dataclasses.replace(options, **overrides)  # type: ignore[arg-type]
            for overrides in PORTFOLIO[: workers - 1]
        ]
    )
    if len(variants) == 1:
        return _solve_one(problem, matrix, options, t0, initial, stability, unassigned_penalty)
    light = dataclasses.replace(problem, travel=PrecomputedMatrix(matrix))
    with ProcessPoolExecutor(max_workers=len(variants)) as pool:
        futures = [
            pool.submit(_solve_one, light, matrix, v, t0, initial, stability, unassigned_penalty)
            for v in variants
        ]
        plans = [f.result() for f in futures]
    # Most visits served first, then the cheapest objective; ties go to the lower worker.
    best = min(range(len(plans)), key=lambda i: (-plans[i].served_count(), plans[i].objective, i))
    return plans[best]


def _solve_one(
    problem: Problem,
    matrix: np.ndarray,
    options: SolverOptions,
    t0: float,
    initial: Mapping[str, tuple[str, int, int]] | None,
    stability: Stability | None,
    unassigned_penalty: int | None,
) -> Plan:
    vehicles = vehicle_days(problem)
    allowed, rejected = precheck(problem, vehicles)
    if not allowed or not vehicles:
        return Plan((), tuple(rejected), 0, 0)
    model = build_model(problem, matrix, allowed, vehicles, stability, unassigned_penalty)
    routing = model.routing
    for brk in model.breaks.values():
        routing.AddIntervalToAssignment(brk)
    solution = None
    start_routes = _initial_routes(model, initial) if initial else None
    if start_routes is None and options.first_solution == REGRET_INSERTION:
        start_routes = _constructed_routes(model)
    remaining = max(0.05, options.time_limit_s - (_time.monotonic() - t0))
    params = search_parameters(options, remaining, seeded=start_routes is not None)
    if start_routes is not None:
        routing.CloseModelWithParameters(params)
        seed = routing.ReadAssignmentFromRoutes(start_routes, True)
        if seed is not None:
            solution = readable(model, routing.SolveFromAssignmentWithParameters(seed, params))
        if solution is None:
            # A failed restore leaves the model unusable (OR-Tools 9.15 restores fail on
            # some valid route sets); rebuild and search from scratch, still paying the
            # stability costs.
            model = build_model(problem, matrix, allowed, vehicles, stability, unassigned_penalty)
            routing = model.routing
            for brk in model.breaks.values():
                routing.AddIntervalToAssignment(brk)
            remaining = max(0.05, options.time_limit_s - (_time.monotonic() - t0))
            fallback = options
            if options.first_solution == REGRET_INSERTION:
                fallback = dataclasses.replace(
                    options, first_solution="PARALLEL_CHEAPEST_INSERTION"
                )
            params = search_parameters(fallback, remaining)
    if solution is None:
        if options.metaheuristic == ILS:
            solution = readable(model, routing.SolveWithIteratedLocalSearch(params))
        else:
            solution = readable(model, routing.SolveWithParameters(params))
    if solution is None and options.solution_limit != 1:
        # Nothing readable: OR-Tools' first solution alone (its finalizer fixes breaks).
        first = dataclasses.replace(
            options,
            first_solution="PARALLEL_CHEAPEST_INSERTION",
            metaheuristic="GREEDY_DESCENT",
            solution_limit=1,
            time_limit_s=max(1.0, options.time_limit_s - (_time.monotonic() - t0)),
        )
        return _solve_one(
            problem, matrix, first, _time.monotonic(), None, stability, unassigned_penalty
        )
    if solution is None:
        dropped = [Unassigned(problem.visits[i].id, INSUFFICIENT_CAPACITY) for i in model.active]
        return Plan((), tuple(rejected + dropped), 0, 0)
    return read_plan(model, solution, rejected)


def constructed_plan(
    problem: Problem,
    matrix: np.ndarray,
    seconds: float,
    unassigned_penalty: int | None = None,
) -> Plan:
    """The regret construction's plan, without any search (OR-Tools only restores it,
    computing the times); if it cannot, OR-Tools' own first solution."""
    vehicles = vehicle_days(problem)
    allowed, rejected = precheck(problem, vehicles)
    if not allowed or not vehicles:
        return Plan((), tuple(rejected), 0, 0)
    model = build_model(problem, matrix, allowed, vehicles, None, unassigned_penalty)
    for brk in model.breaks.values():
        model.routing.AddIntervalToAssignment(brk)
    # The restored routes as the search's first and only solution: reading the restored
    # assignment itself could find a lunch break not yet fixed, and OR-Tools aborts the
    # process on that (a CHECK failure, seen once in 25 territories of 400 visits).
    options = SolverOptions(
        time_limit_s=seconds,
        first_solution=REGRET_INSERTION,
        metaheuristic="GREEDY_DESCENT",
        solution_limit=1,
    )
    params = search_parameters(options, seconds, seeded=True)
    model.routing.CloseModelWithParameters(params)
    seed = model.routing.ReadAssignmentFromRoutes(_constructed_routes(model), True)
    solution = (
        None
        if seed is None
        else readable(model, model.routing.SolveFromAssignmentWithParameters(seed, params))
    )
    if solution is not None:
        return read_plan(model, solution, rejected)
    first = SolverOptions(
        time_limit_s=seconds, first_solution="LOCAL_CHEAPEST_INSERTION", solution_limit=1
    )
    return solve(problem, first, unassigned_penalty=unassigned_penalty, matrix=matrix)


def _constructed_routes(model: Model) -> list[list[int]]:
    """The regret construction's routes as routing indexes per vehicle."""
    node_of = {i: pos for pos, i in enumerate(model.active)}
    routes = construct(
        model.problem,
        model.matrix,
        model.vehicles,
        model.allowed,
        extra=model.extra,
        penalty=model.penalty,
        scale=model.cost_scale,
        time_weight=CONSTRUCT_TIME_WEIGHT if model.problem.horizon.num_days > 1 else 0.0,
    )
    return [[model.manager.NodeToIndex(node_of[i]) for i in route] for route in routes]


def _initial_routes(
    model: Model, initial: Mapping[str, tuple[str, int, int]]
) -> list[list[int]] | None:
    vehicle_of = {
        (model.problem.technicians[t].id, d): k for k, (t, d) in enumerate(model.vehicles)
    }
    routes: list[list[tuple[int, int]]] = [[] for _ in model.vehicles]
    for pos, i in enumerate(model.active):
        prev = initial.get(model.problem.visits[i].id)
        if prev is None:
            continue
        k = vehicle_of.get((prev[0], prev[1]))
        if k is not None and k in model.allowed[i]:
            routes[k].append((prev[2], model.manager.NodeToIndex(pos)))
    return [[index for _, index in sorted(r)] for r in routes]


def readable(model: Model, solution: pywrapcp.Assignment | None) -> pywrapcp.Assignment | None:
    """``solution`` if every lunch break of a technician-day it uses is fixed, else None.

    Reading an unfixed break makes OR-Tools abort the whole process (a CHECK failure,
    not an exception); on a loaded machine a search cut short by its time limit returned
    such a solution for one territory in 25 (plan_scale, 10,000 visits), which failed
    the plan.
    """
    if solution is None:
        return None
    routing = model.routing
    for k, brk in model.breaks.items():
        used = not routing.IsEnd(solution.Value(routing.NextVar(routing.Start(k))))
        if used and solution.StartMin(brk) != solution.StartMax(brk):
            return None
    return solution


def read_plan(model: Model, solution: pywrapcp.Assignment, rejected: list[Unassigned]) -> Plan:
    """Turn an OR-Tools assignment into a Plan with day-relative times."""
    problem, routing, time = model.problem, model.routing, model.time
    n = len(model.active)
    n_all = len(problem.visits)
    n_t = len(problem.technicians)
    routes: list[Route] = []
    served: set[int] = set()
    drive = 0
    for k, (t, d) in enumerate(model.vehicles):
        index = solution.Value(routing.NextVar(routing.Start(k)))
        if routing.IsEnd(index):
            continue
        off = d * problem.horizon.day_length
        brk = model.breaks.get(k)
        b_start = solution.StartValue(brk) if brk is not None else None
        b_dur = problem.technicians[t].lunch.duration if brk is not None else 0  # type: ignore[union-attr]
        dep = solution.Value(time.CumulVar(routing.Start(k)))
        prev_loc, prev_end = n_all + t, dep
        stops: list[Stop] = []
        while True:
            node = model.manager.IndexToNode(index)
            loc = model.active[node] if node < n else n_all + n_t + t
            leg = int(model.matrix[prev_loc, loc])
            drive += leg
            at = solution.Value(time.CumulVar(index))
            arrival = prev_end + leg
            # A break that starts on the way delays the arrival. One that starts after
            # the earliest arrival is taken there: while waiting for a site to open, or
            # at home once the route is over (OR-Tools lets a break overlap the end).
            if b_start is not None and prev_end <= b_start < min(at, arrival):
                arrival += b_dur
            if routing.IsEnd(index):
                routes.append(
                    Route(
                        problem.technicians[t].id,
                        d,
                        dep - off,
                        tuple(stops),
                        arrival - off,
                        None if b_start is None else b_start - off,
                    )
                )
                break
            visit = problem.visits[loc]
            served.add(loc)
            stops.append(Stop(visit.id, arrival - off, at - off, at + visit.service - off))
            prev_loc, prev_end = loc, at + visit.service
            index = solution.Value(routing.NextVar(index))
    dropped = [
        Unassigned(problem.visits[i].id, INSUFFICIENT_CAPACITY)
        for i in model.active
        if i not in served
    ]
    return Plan(tuple(routes), tuple(rejected + dropped), drive, solution.ObjectiveValue())
