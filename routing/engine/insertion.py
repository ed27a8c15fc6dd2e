"""Slot offers: the cheapest feasible insertions of one visit into a fixed plan.

A partner who wants another date picks from concrete slots that fit the plan as it
stands, not from a calendar guess: a technician with the skill works that day and has
the time, the site is open, and the whole visit fits (a visit's windows bound its start
so that it ends before closing). Each slot is an insertion of the visit into one
technician-day of the plan, at one position, with the route retimed:

- every other stop keeps its technician, day and order, and starts no earlier than it
  did (later only where the inserted visit pushes it, and always inside its own windows,
  which carry the arrival window its partner was promised);
- the lunch break goes into whichever gap leaves the other stops where they were (then
  brings the technician home earliest);
- a visit already in the plan is taken out of its route first (that route is retimed the
  same way), so that moving it never double-books it.

The travel provider is asked for each route's own locations only, so a large plan never
needs its whole matrix. Pure: it knows nothing but the engine's problem and plan.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np

from routing.engine.problem import (
    Break,
    Plan,
    Problem,
    Route,
    Stop,
    Technician,
    TimeWindow,
    Visit,
)


@dataclass(frozen=True)
class Insertion:
    """``visit_id`` served on ``route`` (the whole technician-day, retimed) at
    ``position``; ``cost`` is the drive time it adds."""

    visit_id: str
    route: Route
    position: int
    cost: int

    @property
    def stop(self) -> Stop:
        return self.route.stops[self.position]


@dataclass(frozen=True)
class SlotOffer:
    """A slot to offer: a day and an arrival window (day minutes) that the cheapest
    insertion behind it keeps (its service starts inside the window)."""

    day: int
    window: TimeWindow
    insertion: Insertion


def _earliest(windows: tuple[TimeWindow, ...] | None, lo: int, day_length: int) -> int | None:
    """The earliest service start at or after ``lo`` inside ``windows`` (None: open)."""
    if windows is None:
        return lo if lo < day_length else None
    for w in sorted(windows, key=lambda w: w.start):
        if w.end >= lo:
            return max(lo, w.start)
    return None


def _timed(
    problem: Problem,
    tech: Technician,
    day: int,
    stops: Sequence[Visit],
    m: np.ndarray,
    not_before: Sequence[int | None],
    gap: int | None,
) -> tuple[Route, int] | None:
    """The route with the break in ``gap`` (before stop ``gap``; ``len(stops)``: before
    home), every stop as early as allowed; with how far it pushes stops past
    ``not_before``. ``m`` is the travel matrix over home, the stops, home."""
    shift = tech.shift_on(day)
    brk = tech.lunch
    if shift is None:
        return None
    n = len(stops)
    free = shift.start  # when the technician leaves the previous node
    break_start: int | None = None
    timed: list[Stop] = []
    pushed = 0
    for k in range(n + 1):
        drive = int(m[k, k + 1])
        ready = free + drive
        if brk is not None and k == gap:
            break_start = max(free, brk.window.start)
            if break_start > brk.window.end:
                return None
            # The break and this leg's drive both fit between leaving and starting.
            ready = max(ready, break_start) + brk.duration
        if k == n:
            if ready > shift.end:
                return None
            departure = _departure(shift.start, timed, int(m[0, 1]), brk, gap, break_start)
            if tech.max_work is not None and ready - departure > tech.max_work:
                return None
            route = Route(tech.id, day, departure, tuple(timed), ready, break_start)
            return route, pushed
        visit, bound = stops[k], not_before[k]
        lo = ready if bound is None else max(ready, bound)
        start = _earliest(visit.windows_on(day), lo, problem.horizon.day_length)
        if start is None:
            return None
        pushed += 0 if bound is None else start - bound
        timed.append(Stop(visit.id, ready, start, start + visit.service))
        free = start + visit.service
    return None  # not reached: the loop returns at k == n


def _departure(
    shift_start: int,
    stops: list[Stop],
    first_drive: int,
    brk: Break | None,
    gap: int | None,
    break_start: int | None,
) -> int:
    """Leave home as late as the first stop allows (never before the shift, never after
    a break taken before the first stop)."""
    if not stops:
        return shift_start
    latest = stops[0].start - first_drive
    if gap == 0 and break_start is not None and brk is not None:
        latest = min(break_start, stops[0].start - first_drive - brk.duration)
    return max(shift_start, latest)


def timetable(
    problem: Problem,
    tech: Technician,
    day: int,
    stops: Sequence[Visit],
    m: np.ndarray,
    not_before: Sequence[int | None] | None = None,
) -> tuple[Route, int] | None:
    """The stops in this order as a feasible route of ``tech`` on ``day``, or None. Each
    stop starts at its earliest time, but not before ``not_before`` (its start in the
    plan being changed); the break goes into the gap that pushes the stops least, then
    brings the technician home earliest. Returns the route and the minutes it pushed."""
    if tech.capacity is not None and sum(v.demand for v in stops) > tech.capacity:
        return None
    bounds = list(not_before) if not_before is not None else [None] * len(stops)
    gaps: Sequence[int | None] = range(len(stops) + 1) if tech.lunch is not None else [None]
    best: tuple[Route, int] | None = None
    for gap in gaps:
        found = _timed(problem, tech, day, stops, m, bounds, gap)
        if found is not None and (
            best is None or (found[1], found[0].arrival_home) < (best[1], best[0].arrival_home)
        ):
            best = found
    return best


class _Routes:
    """The plan's routes with their visits, and travel matrices per route."""

    def __init__(self, problem: Problem, plan: Plan) -> None:
        self.problem = problem
        self.visits = {v.id: v for v in problem.visits}
        self.techs = {t.id: t for t in problem.technicians}
        self.by_key = {(r.technician_id, r.day): r for r in plan.routes}

    def matrix(self, tech: Technician, visits: Sequence[Visit]) -> np.ndarray:
        """Travel times over home, ``visits``, home (the technician's end)."""
        locations = [tech.start, *(v.location for v in visits), tech.end_location]
        return np.asarray(self.problem.travel.matrix(locations), dtype=np.int64)

    def retime(self, route: Route, keep: Callable[[Stop], bool]) -> Route | None:
        """``route`` with only the stops ``keep`` accepts, retimed (None: no stop left)."""
        kept = [s for s in route.stops if keep(s)]
        if not kept:
            return None
        tech = self.techs[route.technician_id]
        visits = [self.visits[s.visit_id] for s in kept]
        m = self.matrix(tech, visits)
        found = timetable(self.problem, tech, route.day, visits, m, [s.start for s in kept])
        if found is None:  # travel times that break the triangle inequality: from scratch
            found = timetable(self.problem, tech, route.day, visits, m)
        if found is None:
            return dataclasses.replace(route, stops=tuple(kept))  # the validator will say
        return found[0]


def without_visit(problem: Problem, plan: Plan, visit_id: str) -> Plan:
    """``plan`` with ``visit_id`` neither served nor reported: out of its route (which is
    retimed, or dropped when it was the only stop) and off the unassigned list."""
    routes = _Routes(problem, plan)
    out: list[Route] = []
    drive = plan.drive_time
    for route in plan.routes:
        if all(s.visit_id != visit_id for s in route.stops):
            out.append(route)
            continue
        drive -= route_drive(routes, route)
        retimed = routes.retime(route, lambda s: s.visit_id != visit_id)
        if retimed is not None:
            out.append(retimed)
            drive += route_drive(routes, retimed)
    unassigned = tuple(u for u in plan.unassigned if u.visit_id != visit_id)
    return Plan(tuple(out), unassigned, drive, plan.objective)


def route_drive(routes: _Routes, route: Route) -> int:
    """The drive time of ``route``: home, its stops, home."""
    tech = routes.techs[route.technician_id]
    m = routes.matrix(tech, [routes.visits[s.visit_id] for s in route.stops])
    return int(sum(m[k, k + 1] for k in range(len(route.stops) + 1)))


def insertions(
    problem: Problem,
    plan: Plan,
    visit_id: str,
    *,
    days: Collection[int] | None = None,
    later_step: int | None = None,
) -> list[Insertion]:
    """Every feasible insertion of ``visit_id`` into ``plan`` (taken out of its route
    first): one per technician-day and position, on ``days`` (default: all), into the
    technician-days with a route and those without one. With ``later_step``, each
    technician-day's cheapest position is also tried starting later, at every multiple
    of ``later_step`` after its earliest start that stays feasible (the same drive, a
    later time of day). Cheapest first."""
    base = without_visit(problem, plan, visit_id)
    routes = _Routes(problem, base)
    visit = routes.visits[visit_id]
    found: list[Insertion] = []
    for tech in problem.technicians:
        if not tech.can_do(visit) or visit.pin_technician not in (None, tech.id):
            continue
        for day in range(problem.horizon.num_days):
            if days is not None and day not in days:
                continue
            if tech.shift_on(day) is None or visit.windows_on(day) == ():
                continue
            found += _into(routes, tech, day, visit, later_step)
    found.sort(key=lambda i: (i.cost, i.route.day, i.stop.start, i.route.technician_id))
    return found


def _into(
    routes: _Routes, tech: Technician, day: int, visit: Visit, later_step: int | None
) -> list[Insertion]:
    route = routes.by_key.get((tech.id, day))
    stops = list(route.stops) if route is not None else []
    visits = [routes.visits[s.visit_id] for s in stops]
    # Over home (0), the route's visits (1..n), the new visit (n + 1), home's end (n + 2).
    m = routes.matrix(tech, [*visits, visit])
    n = len(visits)

    def at(pos: int, start: int | None) -> Route | None:
        order = [*range(1, pos + 1), n + 1, *range(pos + 1, n + 1)]
        sub = m[np.ix_([0, *order, n + 2], [0, *order, n + 2])]
        bounds: list[int | None] = [s.start for s in stops]
        bounds.insert(pos, start)
        timed = timetable(
            routes.problem, tech, day, [*visits[:pos], visit, *visits[pos:]], sub, bounds
        )
        return None if timed is None else timed[0]

    out: list[Insertion] = []
    for pos in range(n + 1):
        before = 0 if pos == 0 else pos
        after = n + 2 if pos == n else pos + 1
        cost = int(m[before, n + 1] + m[n + 1, after] - m[before, after])
        if (timed := at(pos, None)) is not None:
            out.append(Insertion(visit.id, timed, pos, cost))
    if later_step and out:
        best = min(out, key=lambda i: (i.cost, i.position))
        shift = tech.shift_on(day)
        assert shift is not None
        start = (best.stop.start // later_step + 1) * later_step
        while start + visit.service <= shift.end:
            if (timed := at(best.position, start)) is not None:
                out.append(Insertion(visit.id, timed, best.position, best.cost))
            start += later_step
    return out


def slot_offers(
    problem: Problem,
    plan: Plan,
    visit_id: str,
    *,
    days: Collection[int] | None = None,
    limit: int = 5,
    window: int = 120,
    step: int = 60,
    exclude: Collection[tuple[int, int]] = (),
) -> tuple[SlotOffer, ...]:
    """Up to ``limit`` slots for ``visit_id``: arrival windows of ``window`` minutes that
    start at the service start rounded down to ``step``, each backed by its cheapest
    insertion (later starts of a technician-day's cheapest position included). The
    cheapest slot of each day comes first (a partner asking for another slot mostly
    wants another day), then the next cheapest; ``exclude`` holds (day, window start)
    pairs not to offer (the slot the visit holds now). Sorted by day and window."""
    best: dict[tuple[int, int], Insertion] = {}
    for ins in insertions(problem, plan, visit_id, days=days, later_step=step):
        key = (ins.route.day, ins.stop.start // step * step)
        if key not in exclude and key not in best:
            best[key] = ins  # insertions come cheapest first
    ranked = sorted(best.items(), key=lambda kv: (kv[1].cost, kv[0]))
    chosen: list[tuple[int, int]] = []
    for key, _ in ranked:
        if len(chosen) < limit and all(day != key[0] for day, _ in chosen):
            chosen.append(key)
    for key, _ in ranked:
        if len(chosen) < limit and key not in chosen:
            chosen.append(key)
    return tuple(
        SlotOffer(day, TimeWindow(start, start + window), best[(day, start)])
        for day, start in sorted(chosen)
    )


def apply_insertion(problem: Problem, plan: Plan, insertion: Insertion) -> Plan:
    """``plan`` with the visit moved to ``insertion``: out of its old route, its new
    technician-day replaced by the insertion's route; nothing else changes."""
    base = without_visit(problem, plan, insertion.visit_id)
    routes = _Routes(problem, base)
    key = (insertion.route.technician_id, insertion.route.day)
    old = routes.by_key.get(key)
    drive = base.drive_time - (route_drive(routes, old) if old is not None else 0)
    drive += route_drive(routes, insertion.route)
    kept = tuple(r for r in base.routes if (r.technician_id, r.day) != key)
    return Plan((*kept, insertion.route), base.unassigned, drive, base.objective)
