"""Large instances: improve a plan by re-solving groups of nearby routes.

OR-Tools' local search re-examines every visit and position after each accepted move,
so on 1,000 customers and 250 vehicles one accepted move took 0.3-0.5 s, and a 60 s
search stayed within a few per cent of its first solution. Route-based decomposition
(as in POPMUSIC, and the decomposition phase of hybrid genetic search) keeps the moves
cheap: a group of routes that lie close together, with their visits and the left-out
visits near them, is a small problem of its own; it is re-solved starting from its
current routes, and the result replaces them when it costs less (serving a left-out
visit saves its penalty). Groups are drawn around every route in turn, in a different
order each round, so every border lies inside some group sooner or later.

Routes are near when their visits are: the distance from route r to route s is the
mean, over r's visits, of the travel time to the nearest visit of s. A group holds
vehicle-days, not whole technicians (a technician's other days stay out), so a
multi-day plan decomposes by days as well as by technicians.
"""

from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np

from routing.engine.model import COST_SCALE
from routing.engine.problem import INSUFFICIENT_CAPACITY, Plan, Problem, Route, Unassigned
from routing.engine.solver import ILS, SolverOptions, solve
from routing.engine.travel import PrecomputedMatrix

# Visits in a group (its routes' and the left-out ones offered to it).
GROUP_VISITS = 60
# A group's search time, and how many empty vehicle-days it may open.
GROUP_SECONDS = 0.5
SPARE_VEHICLES = 2
# Left-out visits offered to one group at most.
GROUP_OFFERS = 20

Vehicle = tuple[int, int]  # (technician index, day)


@dataclasses.dataclass
class _State:
    problem: Problem
    matrix: np.ndarray
    routes: dict[Vehicle, Route]
    left_out: dict[int, Unassigned]  # visit index -> why it is out
    index: dict[str, int]
    tech_index: dict[str, int]

    def stops(self, vehicle: Vehicle) -> list[int]:
        return [self.index[s.visit_id] for s in self.routes[vehicle].stops]


def improve(
    problem: Problem,
    plan: Plan,
    options: SolverOptions,
    *,
    matrix: np.ndarray,
    seconds: float,
    seed: int = 0,
    unassigned_penalty: int | None = None,
) -> Plan:
    """``plan`` improved by re-solving groups of nearby routes for ``seconds``."""
    t0 = time.monotonic()
    index = {v.id: i for i, v in enumerate(problem.visits)}
    tech_index = {t.id: k for k, t in enumerate(problem.technicians)}
    state = _State(
        problem,
        matrix,
        {(tech_index[r.technician_id], r.day): r for r in plan.routes if r.stops},
        {index[u.visit_id]: u for u in plan.unassigned},
        index,
        tech_index,
    )
    rng = np.random.default_rng(seed)
    group_options = dataclasses.replace(options, num_workers=1)
    while time.monotonic() - t0 < seconds - 0.2 and state.routes:
        vehicles = list(state.routes)
        near = _route_distances(state, vehicles)
        open_ = set(range(len(vehicles)))
        for s in rng.permutation(len(vehicles)):
            left = seconds - (time.monotonic() - t0)
            if left < 0.2:
                break
            if s not in open_:
                continue
            group = _group(state, vehicles, near, int(s), open_)
            open_ -= set(group)
            _resolve_group(
                state,
                [vehicles[g] for g in group],
                dataclasses.replace(group_options, time_limit_s=min(GROUP_SECONDS, left)),
                unassigned_penalty,
            )
    routes = tuple(state.routes[k] for k in sorted(state.routes))
    drive = sum(_drive(state, k) for k in state.routes)
    objective = round(_cost(state, list(state.routes), list(state.left_out)))
    return Plan(routes, tuple(state.left_out.values()), drive, objective)


def _route_distances(state: _State, vehicles: list[Vehicle]) -> np.ndarray:
    """near[r, s]: mean travel time from route r's visits to the nearest visit of s."""
    members = [np.array(state.stops(k)) for k in vehicles]
    visits = np.concatenate(members)
    owner = np.repeat(np.arange(len(vehicles)), [len(m) for m in members])
    m = state.matrix[np.ix_(visits, visits)].astype(float)
    m = np.minimum(m, m.T)
    starts = np.concatenate([[0], np.cumsum([len(x) for x in members])[:-1]])
    to_route = np.minimum.reduceat(m, starts, axis=1)  # visit x route
    near = np.zeros((len(vehicles), len(vehicles)))
    np.add.at(near, owner, to_route)
    near /= np.array([len(x) for x in members])[:, None]
    np.fill_diagonal(near, np.inf)
    return near


def _group(
    state: _State, vehicles: list[Vehicle], near: np.ndarray, seed: int, open_: set[int]
) -> list[int]:
    """The seed route and its nearest open routes, up to GROUP_VISITS visits."""
    group, size = [seed], len(state.routes[vehicles[seed]].stops)
    for s in np.argsort(near[seed], kind="stable"):
        if size >= GROUP_VISITS:
            break
        if int(s) in open_ and int(s) != seed:
            group.append(int(s))
            size += len(state.routes[vehicles[int(s)]].stops)
    return group


def _spares(state: _State, group: list[Vehicle], visits: list[int]) -> list[Vehicle]:
    """Empty vehicle-days for the group: its technicians' free days first, then the
    free days of the technicians living nearest to its visits."""
    problem = state.problem
    n_v = len(problem.visits)
    mine = {t for t, _ in group}
    free = [
        (t, d)
        for t, tech in enumerate(problem.technicians)
        for d in range(problem.horizon.num_days)
        if tech.shift_on(d) is not None and (t, d) not in state.routes
    ]
    if not free:
        return []
    home = state.matrix[n_v : n_v + len(problem.technicians)][:, visits].min(axis=1)
    free.sort(key=lambda v: (v[0] not in mine, home[v[0]], v[1], v[0]))
    return free[:SPARE_VEHICLES]


def _resolve_group(
    state: _State, group: list[Vehicle], options: SolverOptions, penalty: int | None
) -> None:
    problem, matrix = state.problem, state.matrix
    n_v, n_t = len(problem.visits), len(problem.technicians)
    mine = sorted(i for k in group for i in state.stops(k))
    offered = _offers(state, group, mine)
    vehicles = group + _spares(state, group, mine)
    techs = sorted({t for t, _ in vehicles})
    all_days = frozenset(range(problem.horizon.num_days))
    technicians = tuple(
        dataclasses.replace(
            problem.technicians[t],
            days_off=problem.technicians[t].days_off
            | (all_days - {d for u, d in vehicles if u == t}),
        )
        for t in techs
    )
    visits = mine + offered
    nodes = visits + [n_v + t for t in techs] + [n_v + n_t + t for t in techs]
    sub_m = matrix[np.ix_(nodes, nodes)]
    sub = dataclasses.replace(
        problem,
        visits=tuple(problem.visits[i] for i in visits),
        technicians=technicians,
        travel=PrecomputedMatrix(sub_m),
    )
    initial = {
        s.visit_id: (r.technician_id, r.day, pos)
        for k in group
        for r in (state.routes[k],)
        for pos, s in enumerate(r.stops)
    }
    # Iterated local search runs only from a first solution of OR-Tools' own, and on a
    # group of 60 visits it beats guided local search from the current routes by far
    # (RC1_10_1: 5.7 % against 9.6 % at about 70 s of CPU); the current routes still
    # stay unless the new ones cost less.
    seeded = options.metaheuristic != ILS
    new = solve(
        sub, options, initial=initial if seeded else None, matrix=sub_m, unassigned_penalty=penalty
    )
    # Every visit here could be served in the whole problem: one left out now is out
    # for lack of room (the group's vehicles may be closed days for an offered one).
    out = {
        state.index[u.visit_id]: Unassigned(u.visit_id, INSUFFICIENT_CAPACITY)
        for u in new.unassigned
    }
    if set(out) - set(visits) or sum(len(r.stops) for r in new.routes) + len(out) != len(visits):
        return  # not an answer for this group (never expected; keep the current routes)
    new_routes = {(state.tech_index[r.technician_id], r.day): r for r in new.routes if r.stops}
    if _cost(state, list(new_routes), list(out), new_routes) >= _cost(state, group, offered):
        return
    for k in group:
        del state.routes[k]
    state.routes.update(new_routes)
    for i in offered:
        state.left_out.pop(i, None)
    state.left_out.update(out)


def _offers(state: _State, group: list[Vehicle], mine: list[int]) -> list[int]:
    """Left-out visits (for lack of room) nearer to the group's visits than its longest
    leg: those the group's routes could take in."""
    waiting = [i for i, u in state.left_out.items() if u.reason == INSUFFICIENT_CAPACITY]
    if not waiting or not mine:
        return []
    gap = state.matrix[np.ix_(waiting, mine)].min(axis=1)
    reach = max(_longest_leg(state, k) for k in group)
    close = [(float(g), i) for g, i in zip(gap, waiting, strict=True) if g <= reach]
    return [i for _, i in sorted(close)[:GROUP_OFFERS]]


def _nodes(
    state: _State, vehicle: Vehicle, routes: dict[Vehicle, Route] | None = None
) -> list[int]:
    problem = state.problem
    n_v, n_t = len(problem.visits), len(problem.technicians)
    route = (state.routes if routes is None else routes)[vehicle]
    t = vehicle[0]
    return [n_v + t] + [state.index[s.visit_id] for s in route.stops] + [n_v + n_t + t]


def _longest_leg(state: _State, vehicle: Vehicle) -> int:
    return max(int(state.matrix[a, b]) for a, b in itertools.pairwise(_nodes(state, vehicle)))


def _drive(state: _State, vehicle: Vehicle, routes: dict[Vehicle, Route] | None = None) -> int:
    nodes = _nodes(state, vehicle, routes)
    return int(sum(state.matrix[a, b] for a, b in itertools.pairwise(nodes)))


def _cost(
    state: _State,
    vehicles: list[Vehicle],
    out: list[int],
    routes: dict[Vehicle, Route] | None = None,
) -> float:
    """The objective's terms for these routes and left-out visits, in drive units
    scaled as the model scales them: drive, lateness by priority, left-out penalties."""
    problem = state.problem
    costs = problem.costs
    scale = COST_SCALE if problem.horizon.num_days > 1 and costs.lateness_per_day > 0 else 1
    total = 0.0
    for k in vehicles:
        route = (state.routes if routes is None else routes)[k]
        total += _drive(state, k, routes)
        for s in route.stops:
            visit = problem.visits[state.index[s.visit_id]]
            total += max(0, route.day - visit.latest_day) * visit.priority * costs.lateness_per_day
    total += sum(problem.visits[i].priority * costs.unassigned for i in out)
    return total * scale
