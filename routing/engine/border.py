"""Joining territory plans, and the border repair: visits a territory had no room for
are offered to the nearest technicians that may serve them, whatever their territory.

A repair re-solves a neighbourhood: the technicians nearest to a dropped visit (their
homes, by travel time), while their routes hold at most ``REPAIR_VISITS`` visits, plus
the dropped visits whose nearest able technician is among them. The search starts
from their current routes, and the result is kept only if it serves more. Only the
neighbourhood's travel times are asked of the provider, so joining a 10,000-visit plan
never builds its whole matrix.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Sequence

import numpy as np

from routing.engine.problem import INSUFFICIENT_CAPACITY, Plan, Problem, Route, Unassigned
from routing.engine.solver import SolverOptions, solve
from routing.engine.travel import PrecomputedMatrix

# Visits in one repair neighbourhood (routes already there plus offered visits).
REPAIR_VISITS = 240
# Dropped visits offered to one neighbourhood at most.
REPAIR_OFFERS = 30


def route_drive(problem: Problem, route: Route, matrix: np.ndarray | None = None) -> int:
    """Drive time of one route, from ``matrix`` (over ``problem.locations()``) or from
    the provider for the route's own locations."""
    t = next(k for k, tech in enumerate(problem.technicians) if tech.id == route.technician_id)
    return _drive(problem, route, t, {v.id: i for i, v in enumerate(problem.visits)}, matrix)


def _drive(
    problem: Problem, route: Route, t: int, index: dict[str, int], matrix: np.ndarray | None
) -> int:
    n_v, n_t = len(problem.visits), len(problem.technicians)
    stops = [index[s.visit_id] for s in route.stops]
    if matrix is None:
        tech = problem.technicians[t]
        locations = [tech.start] + [problem.visits[i].location for i in stops] + [tech.end_location]
        m = np.asarray(problem.travel.matrix(locations))
        return int(sum(m[j, j + 1] for j in range(len(locations) - 1)))
    nodes = [n_v + t, *stops, n_v + n_t + t]
    return int(sum(matrix[a, b] for a, b in itertools.pairwise(nodes)))


def join(
    problem: Problem,
    plans: Sequence[Plan],
    options: SolverOptions,
    *,
    matrix: np.ndarray | None = None,
) -> Plan:
    """The territories' plans as one plan of ``problem``, borders repaired within
    ``options.time_limit_s``. Each visit keeps the reason its territory gave."""
    routes = [r for p in plans for r in p.routes]
    served = {s.visit_id for r in routes for s in r.stops}
    unassigned: dict[str, Unassigned] = {}
    for p in plans:
        for u in p.unassigned:
            if u.visit_id not in served:
                unassigned.setdefault(u.visit_id, u)
    joined = Plan(
        tuple(routes),
        tuple(unassigned.values()),
        sum(p.drive_time for p in plans),
        sum(p.objective for p in plans),
    )
    return repair(problem, joined, options, matrix=matrix)


def repair(
    problem: Problem,
    plan: Plan,
    options: SolverOptions,
    *,
    matrix: np.ndarray | None = None,
) -> Plan:
    """Offer the visits ``plan`` left out for lack of room to neighbourhoods of
    technicians (see the module docstring); ``options.time_limit_s`` bounds it all."""
    t0 = time.monotonic()
    dropped = sorted(u.visit_id for u in plan.unassigned if u.reason == INSUFFICIENT_CAPACITY)
    if not dropped:
        return plan
    index = {v.id: i for i, v in enumerate(problem.visits)}
    techs = problem.technicians
    n_v, n_t = len(problem.visits), len(techs)
    pending = [index[v] for v in dropped]
    distance = _home_distances(problem, pending, matrix)
    routes_of: dict[int, list[Route]] = {t: [] for t in range(n_t)}
    tech_index = {t.id: k for k, t in enumerate(techs)}
    for r in plan.routes:
        routes_of[tech_index[r.technician_id]].append(r)
    nearest: dict[int, list[int]] = {}
    for j, i in enumerate(pending):
        visit = problem.visits[i]
        able = [
            t
            for t in range(n_t)
            if techs[t].can_do(visit) and visit.pin_technician in (None, techs[t].id)
        ]
        nearest[i] = [t for _, t in sorted((float(distance[t, j]), t) for t in able)]
    groups = math.ceil(len(pending) / REPAIR_OFFERS)
    unassigned = {u.visit_id: u for u in plan.unassigned}
    while pending:
        remaining = options.time_limit_s - (time.monotonic() - t0)
        if remaining <= 0.5:
            break
        first = pending[0]
        group: list[int] = []
        size = 0
        # The nearest technician, then the nearest ones with a free working day: the
        # nearest all belong to the territory that had no room.
        candidates = nearest[first][:1] + sorted(
            nearest[first][1:], key=lambda t: _free_days(problem, t, routes_of[t]) == 0
        )
        for t in candidates:
            load = sum(len(r.stops) for r in routes_of[t])
            if group and size + load > REPAIR_VISITS:
                break
            group.append(t)
            size += load
        near = [i for i in pending if i != first and nearest[i] and nearest[i][0] in group]
        offered = [first, *near[: REPAIR_OFFERS - 1]]
        pending = [i for i in pending if i not in offered]
        if not group:
            continue
        mine = [index[s.visit_id] for t in group for r in routes_of[t] for s in r.stops]
        visits = sorted(mine + offered)
        sub = dataclasses.replace(
            problem,
            visits=tuple(problem.visits[i] for i in visits),
            technicians=tuple(techs[t] for t in group),
        )
        sub_m = None
        if matrix is not None:
            nodes = visits + [n_v + t for t in group] + [n_v + n_t + t for t in group]
            sub_m = matrix[np.ix_(nodes, nodes)]
            sub = dataclasses.replace(sub, travel=PrecomputedMatrix(sub_m))
        initial = {
            s.visit_id: (r.technician_id, r.day, pos)
            for t in group
            for r in routes_of[t]
            for pos, s in enumerate(r.stops)
        }
        budget = max(1.0, remaining / max(1, groups))
        groups = max(1, groups - 1)
        new = solve(
            sub,
            dataclasses.replace(options, time_limit_s=budget, num_workers=1),
            initial=initial,
            matrix=sub_m,
        )
        if new.served_count() <= len(mine):
            continue
        for t in group:
            routes_of[t] = []
        for r in new.routes:
            routes_of[tech_index[r.technician_id]].append(r)
        for u in new.unassigned:
            unassigned[u.visit_id] = u
        for vid in new.assignment():
            unassigned.pop(vid, None)
    routes = tuple(r for t in range(n_t) for r in routes_of[t])
    drive = sum(_drive(problem, r, tech_index[r.technician_id], index, matrix) for r in routes)
    return dataclasses.replace(
        plan, routes=routes, unassigned=tuple(unassigned.values()), drive_time=drive
    )


def _free_days(problem: Problem, t: int, routes: list[Route]) -> int:
    """Working days of technician ``t`` without a route."""
    busy = {r.day for r in routes}
    tech = problem.technicians[t]
    return sum(
        1 for d in range(problem.horizon.num_days) if tech.shift_on(d) is not None and d not in busy
    )


def _home_distances(problem: Problem, visits: list[int], matrix: np.ndarray | None) -> np.ndarray:
    """Travel time from each technician's home to each of ``visits``."""
    n_v, n_t = len(problem.visits), len(problem.technicians)
    if matrix is not None:
        return np.asarray(matrix[n_v : n_v + n_t][:, visits], dtype=float)
    homes = [t.start for t in problem.technicians]
    m = np.asarray(problem.travel.matrix(homes + [problem.visits[i].location for i in visits]))
    return np.asarray(m[:n_t, n_t:], dtype=float)
