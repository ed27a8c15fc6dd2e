"""A first solution by regret insertion, every candidate of a route checked at once.

OR-Tools' own first-solution heuristics check each insertion through the model's
constraint filters one at a time. On a tight multi-day plan with lunch breaks (400
visits, 5 technicians, 10 days) parallel cheapest insertion left 107 visits out, and
the local search could not bring them back; on 1,000 customers and 250 vehicles a first
solution took 7 s. This construction keeps, for each route, the earliest departure from
every stop and the latest start of every stop, each with the lunch break already taken
and still to take, so checking a visit between two stops is a few array operations,
done for every unrouted visit at once with numpy. The routes it returns are feasible:
the solver reads them back with ``ReadAssignmentFromRoutes``.

Visits are inserted in order of regret (how much worse their second-best route is than
their best), so the visits with few good options go first, as in VROOM's regret-based
heuristics. Identical empty vehicles (one depot, one fleet) are opened one at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from routing.engine.problem import Problem, day_windows_abs

INF = np.inf


@dataclass
class _Route:
    """One vehicle's stops and the schedule bounds the insertion checks read."""

    stops: list[int]
    load: int = 0
    # early_open[q] / early_taken[q]: earliest departure from position q (q = 0 is
    # home, stop s is position s + 1) with the break still to take / already taken.
    early_open: np.ndarray | None = None
    early_taken: np.ndarray | None = None
    # late_taken[j] / late_open[j]: latest start at position j (j = len(stops) is the
    # arrival home) with the break taken before it / still to take after it.
    late_taken: np.ndarray | None = None
    late_open: np.ndarray | None = None


class _Fleet:
    """The vehicles' shifts, breaks and capacities as flat arrays (absolute times)."""

    def __init__(self, problem: Problem, vehicles: Sequence[tuple[int, int]]) -> None:
        hz = problem.horizon
        n_v, n_t = len(problem.visits), len(problem.technicians)
        k = len(vehicles)
        self.start_loc = np.array([n_v + t for t, _ in vehicles])
        self.end_loc = np.array([n_v + n_t + t for t, _ in vehicles])
        self.shift_start = np.zeros(k)
        self.shift_end = np.zeros(k)
        self.has_break = np.zeros(k, dtype=bool)
        self.break_from = np.zeros(k)
        self.break_to = np.zeros(k)
        self.break_len = np.zeros(k)
        self.capacity = np.full(k, INF)
        for j, (t, d) in enumerate(vehicles):
            tech = problem.technicians[t]
            shift = tech.shift_on(d)
            assert shift is not None
            off = d * hz.day_length
            self.shift_start[j] = off + shift.start
            end = off + shift.end
            if tech.max_work is not None:
                # The solver may leave later than the shift starts; a span counted from
                # the shift start is the safe side of the limit.
                end = min(end, off + shift.start + tech.max_work)
            self.shift_end[j] = end
            if tech.lunch is not None:
                self.has_break[j] = True
                self.break_from[j] = off + tech.lunch.window.start
                self.break_to[j] = off + tech.lunch.window.end
                self.break_len[j] = tech.lunch.duration
            if tech.capacity is not None:
                self.capacity[j] = tech.capacity


class _Windows:
    """Each visit's service-start windows per day, padded to a fixed width."""

    def __init__(self, problem: Problem) -> None:
        hz = problem.horizon
        per_day = [[day_windows_abs(v, d, hz) for v in problem.visits] for d in range(hz.num_days)]
        width = max(1, max((len(ws) for day in per_day for ws in day), default=1))
        shape = (hz.num_days, len(problem.visits), width)
        self.open = np.full(shape, INF)
        self.close = np.full(shape, -INF)
        for d, day in enumerate(per_day):
            for i, ws in enumerate(day):
                for w, (s, e) in enumerate(ws):
                    self.open[d, i, w], self.close[d, i, w] = s, e

    def earliest(self, day: int, visits: np.ndarray, at: np.ndarray) -> np.ndarray:
        """The earliest allowed start at or after ``at`` for each visit (inf: none)."""
        start = np.maximum(at[:, None], self.open[day, visits])
        return np.where(start <= self.close[day, visits], start, INF).min(axis=1)

    def latest(self, day: int, visit: int, at: float) -> float:
        """The latest allowed start at or before ``at`` for one visit (-inf: none)."""
        start = np.minimum(at, self.close[day, visit])
        return float(np.where(start >= self.open[day, visit], start, -INF).max())


def construct(
    problem: Problem,
    matrix: np.ndarray,
    vehicles: Sequence[tuple[int, int]],
    allowed: Mapping[int, Sequence[int]],
    *,
    extra: np.ndarray | None = None,
    penalty: np.ndarray | None = None,
    scale: int = 1,
    time_weight: float = 0.0,
    sequential: float | None = None,
) -> list[list[int]]:
    """Routes (visit indexes in order) for each vehicle, built by regret insertion.

    ``allowed`` maps each servable visit index to its vehicles; ``extra`` is the cost
    of serving the ``k``-th visit of ``sorted(allowed)`` on each vehicle (lateness,
    stability) and ``penalty`` the cost of leaving it out, both in objective units
    where a unit of drive time costs ``scale``. A visit that fits nowhere, or only
    where it costs more than its penalty, stays out of every route.
    """
    active = np.array(sorted(allowed), dtype=np.int64)
    n_k = len(vehicles)
    if not len(active) or not n_k:
        return [[] for _ in vehicles]
    builder = _Builder(
        problem, matrix, vehicles, allowed, active, extra, penalty, scale, time_weight
    )
    if sequential is not None:
        return builder.run_sequential(sequential)
    return builder.run()


class _Builder:
    def __init__(
        self,
        problem: Problem,
        matrix: np.ndarray,
        vehicles: Sequence[tuple[int, int]],
        allowed: Mapping[int, Sequence[int]],
        active: np.ndarray,
        extra: np.ndarray | None,
        penalty: np.ndarray | None,
        scale: int,
        time_weight: float = 0.0,
    ) -> None:
        self.time_weight = time_weight
        self.matrix = matrix.astype(np.float64)
        self.vehicles = vehicles
        self.day = np.array([d for _, d in vehicles])
        self.fleet = _Fleet(problem, vehicles)
        self.windows = _Windows(problem)
        self.active = active
        n_a, n_k = len(active), len(vehicles)
        self.service = np.array([problem.visits[i].service for i in active], dtype=np.float64)
        self.demand = np.array([problem.visits[i].demand for i in active], dtype=np.float64)
        self.may = np.zeros((n_a, n_k), dtype=bool)
        for a, i in enumerate(active):
            self.may[a, list(allowed[int(i)])] = True
        self.extra = np.zeros((n_a, n_k)) if extra is None else extra.astype(np.float64)
        self.penalty = np.full(n_a, INF) if penalty is None else penalty.astype(np.float64)
        self.scale = scale
        self.routes = [_Route([]) for _ in vehicles]
        self.cost = np.full((n_a, n_k), INF)
        self.position = np.zeros((n_a, n_k), dtype=np.int64)
        self.classes = self._classes(problem)

    def _classes(self, problem: Problem) -> list[list[int]]:
        """Groups of interchangeable vehicles, each in vehicle order."""
        pinned = any(v.pin_technician is not None for v in problem.visits)
        groups: dict[tuple[object, ...], list[int]] = {}
        for k, (t, d) in enumerate(self.vehicles):
            tech = problem.technicians[t]
            key = (
                tech.id if pinned else None,
                tech.start,
                tech.end_location,
                tech.skills,
                d,
                self.fleet.shift_start[k],
                self.fleet.shift_end[k],
                self.fleet.break_from[k] if self.fleet.has_break[k] else None,
                self.fleet.break_len[k],
                self.fleet.capacity[k],
                self.may[:, k].tobytes(),
                self.extra[:, k].tobytes(),
            )
            groups.setdefault(key, []).append(k)
        return list(groups.values())

    def run_sequential(self, far_weight: float) -> list[list[int]]:
        """Solomon-style: fill one vehicle at a time (day by day), seeding each with the
        unrouted visit farthest from its home, then adding the cheapest insertion
        (less ``far_weight`` times the visit's round trip, so far visits join early)."""
        unrouted = np.ones(len(self.active), dtype=bool)
        order = sorted(range(len(self.vehicles)), key=lambda k: (self.day[k], k))
        for k in order:
            if not unrouted.any():
                break
            fleet = self.fleet
            trip = (
                self.matrix[fleet.start_loc[k], self.active]
                + self.matrix[self.active, fleet.end_loc[k]]
            ) * self.scale
            self._refresh(k, unrouted)
            seeded = False
            while True:
                cost = np.where(self.cost[:, k] <= self.penalty, self.cost[:, k], INF)
                if not np.isfinite(cost).any():
                    break
                if not seeded:
                    score = np.where(np.isfinite(cost), -trip + self.extra[:, k], INF)
                    seeded = True
                else:
                    score = cost - far_weight * trip
                a = int(np.argmin(score))
                route = self.routes[k]
                route.stops.insert(int(self.position[a, k]), a)
                route.load += int(self.demand[a])
                unrouted[a] = False
                self.cost[a, :] = INF
                self._refresh(k, unrouted)
        return [[int(self.active[a]) for a in r.stops] for r in self.routes]

    def run(self) -> list[list[int]]:
        # Only one empty vehicle of each class is offered at a time: the next one opens
        # when it gets its first stop.
        spare = [list(group) for group in self.classes]
        class_of = {k: c for c, group in enumerate(self.classes) for k in group}
        usable: list[int] = []
        for group in spare:
            usable.append(group.pop(0))
            self._refresh(usable[-1])
        unrouted = np.ones(len(self.active), dtype=bool)
        while unrouted.any():
            rows = np.flatnonzero(unrouted)
            cols = np.array(usable)
            costs = self.cost[np.ix_(rows, cols)]
            costs = np.where(costs <= self.penalty[rows, None], costs, INF)
            best = costs.argmin(axis=1)
            first = costs[np.arange(len(rows)), best]
            if not np.isfinite(first).any():
                break
            if costs.shape[1] > 1:
                second = np.partition(costs, 1, axis=1)[:, 1]
            else:
                second = np.full(len(rows), INF)
            # A visit with one option left goes first (it may lose it); then regret.
            # (inf - inf where a visit has no option: np.where discards it.)
            with np.errstate(invalid="ignore"):
                regret = np.where(np.isfinite(second), second - first, 1e15)
            regret = np.where(np.isfinite(first), regret, -INF)
            pick = int(np.argmax(regret - 1e-9 * first))
            a, k = int(rows[pick]), int(cols[best[pick]])
            route = self.routes[k]
            was_empty = not route.stops
            route.stops.insert(int(self.position[a, k]), a)
            route.load += int(self.demand[a])
            unrouted[a] = False
            self.cost[a, :] = INF
            if was_empty and spare[class_of[k]]:
                usable.append(spare[class_of[k]].pop(0))
                self._refresh(usable[-1], unrouted)
            self._refresh(k, unrouted)
        return [[int(self.active[a]) for a in r.stops] for r in self.routes]

    def _schedule(self, k: int) -> None:
        """Forward and backward bounds of route ``k``'s current stops."""
        fleet, route, m = self.fleet, self.routes[k], self.matrix
        day = int(self.day[k])
        b_from, b_to, b_len = fleet.break_from[k], fleet.break_to[k], fleet.break_len[k]
        stops = route.stops
        locs = [int(fleet.start_loc[k])] + [int(self.active[a]) for a in stops]
        n = len(stops)
        early_open = np.full(n + 1, INF)
        early_taken = np.full(n + 1, INF)
        if fleet.has_break[k]:
            early_open[0] = fleet.shift_start[k]
        else:
            early_taken[0] = fleet.shift_start[k]
        for s, a in enumerate(stops):
            v = np.array([self.active[a]])
            drive = m[locs[s], locs[s + 1]]
            keep = self.windows.earliest(day, v, np.array([early_open[s] + drive]))[0]
            take = INF
            if early_open[s] <= b_to:
                at = max(early_open[s] + drive + b_len, b_from + b_len)
                take = self.windows.earliest(day, v, np.array([at]))[0]
            after = self.windows.earliest(day, v, np.array([early_taken[s] + drive]))[0]
            early_open[s + 1] = keep + self.service[a]
            early_taken[s + 1] = min(take, after) + self.service[a]
        late_taken = np.full(n + 1, -INF)
        late_open = np.full(n + 1, -INF)
        end = fleet.shift_end[k]
        late_taken[n] = end
        if fleet.has_break[k] and b_from + b_len <= end:
            late_open[n] = min(b_to, end - b_len)
        locs.append(int(fleet.end_loc[k]))
        for s in range(n - 1, -1, -1):
            a = stops[s]
            drive = m[locs[s + 1], locs[s + 2]]
            leave_taken = late_taken[s + 1] - drive
            leave_open = late_open[s + 1] - drive
            if fleet.has_break[k] and b_from + b_len <= late_taken[s + 1]:
                leave_open = max(leave_open, min(b_to, late_taken[s + 1] - drive - b_len))
            visit = int(self.active[a])
            late_taken[s] = self.windows.latest(day, visit, leave_taken - self.service[a])
            late_open[s] = self.windows.latest(day, visit, leave_open - self.service[a])
        route.early_open, route.early_taken = early_open, early_taken
        route.late_taken, route.late_open = late_taken, late_open

    def _refresh(self, k: int, unrouted: np.ndarray | None = None) -> None:
        """Best insertion cost and position of every unrouted visit into route ``k``."""
        self._schedule(k)
        fleet, route, m = self.fleet, self.routes[k], self.matrix
        mask = self.may[:, k] if unrouted is None else self.may[:, k] & unrouted
        if route.load:
            mask = mask & (route.load + self.demand <= fleet.capacity[k])
        rows = np.flatnonzero(mask)
        self.cost[:, k] = INF
        if not len(rows):
            return
        day = int(self.day[k])
        visits = self.active[rows]
        service = self.service[rows]
        b_from, b_to, b_len = fleet.break_from[k], fleet.break_to[k], fleet.break_len[k]
        assert route.early_open is not None and route.early_taken is not None
        assert route.late_taken is not None and route.late_open is not None
        locs = (
            [int(fleet.start_loc[k])]
            + [int(self.active[a]) for a in route.stops]
            + [int(fleet.end_loc[k])]
        )
        best = np.full(len(rows), INF)
        where = np.zeros(len(rows), dtype=np.int64)
        for q in range(len(route.stops) + 1):
            before, after = locs[q], locs[q + 1]
            to_v, from_v = m[before, visits], m[visits, after]
            opened = route.early_open[q]
            keep = self.windows.earliest(day, visits, opened + to_v)
            took = self.windows.earliest(day, visits, route.early_taken[q] + to_v)
            if opened <= b_to:
                at = np.maximum(opened + to_v + b_len, b_from + b_len)
                took = np.minimum(took, self.windows.earliest(day, visits, at))
            done_open, done_taken = keep + service, took + service
            fits = done_taken + from_v <= route.late_taken[q]
            fits |= done_open + from_v <= route.late_open[q]
            if fleet.has_break[k]:
                fits |= (done_open <= b_to) & (
                    np.maximum(done_open + from_v + b_len, b_from + b_len) <= route.late_taken[q]
                )
            delta = to_v + from_v - m[before, after]
            if self.time_weight:
                delta = delta + self.time_weight * self._push(
                    k, q, np.minimum(done_open, done_taken) + from_v
                )
            delta = np.where(fits, delta * self.scale, INF)
            better = delta < best
            best = np.where(better, delta, best)
            where = np.where(better, q, where)
        self.cost[rows, k] = best + self.extra[rows, k]
        self.position[rows, k] = where

    def _push(self, k: int, q: int, arrival: np.ndarray) -> np.ndarray:
        """How much later the element after gap ``q`` starts when reached at ``arrival``."""
        route, fleet = self.routes[k], self.fleet
        assert route.early_open is not None and route.early_taken is not None
        n = len(route.stops)
        if q == n:
            last = int(fleet.start_loc[k]) if not n else int(self.active[route.stops[-1]])
            drive = self.matrix[last, int(fleet.end_loc[k])]
            old = min(
                route.early_taken[n] + drive, route.early_open[n] + drive + fleet.break_len[k]
            )
            return np.maximum(0.0, arrival - old)
        a = route.stops[q]
        old = min(route.early_open[q + 1], route.early_taken[q + 1]) - self.service[a]
        new = self.windows.earliest(
            int(self.day[k]), np.full(len(arrival), self.active[a]), arrival
        )
        return np.maximum(0.0, new - old)
