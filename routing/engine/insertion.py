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
    Plan,
    Problem,
    Route,
    Stop,
    Technician,
    TimeWindow,
    Visit,
)
from routing.engine.timing import timetable


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


class _Day:
    """One technician-day to insert the visit into: its stops, and the travel matrix over
    home (0), the stops (1..n), the visit (n + 1) and home's end (n + 2)."""

    def __init__(self, routes: _Routes, tech: Technician, day: int, visit: Visit) -> None:
        self.routes, self.tech, self.day, self.visit = routes, tech, day, visit
        route = routes.by_key.get((tech.id, day))
        self.stops = list(route.stops) if route is not None else []
        self.visits = [routes.visits[s.visit_id] for s in self.stops]
        self.m = routes.matrix(tech, [*self.visits, visit])
        n = len(self.stops)
        m = self.m
        self.costs = [
            int(m[0 if p == 0 else p, n + 1] + m[n + 1, n + 2 if p == n else p + 1])
            - int(m[0 if p == 0 else p, n + 2 if p == n else p + 1])
            for p in range(n + 1)
        ]

    def at(self, pos: int, start: int | None) -> Route | None:
        """The route with the visit at ``pos``, starting no earlier than ``start``."""
        n = len(self.stops)
        order = [0, *range(1, pos + 1), n + 1, *range(pos + 1, n + 1), n + 2]
        bounds: list[int | None] = [s.start for s in self.stops]
        bounds.insert(pos, start)
        sequence = [*self.visits[:pos], self.visit, *self.visits[pos:]]
        sub = self.m[np.ix_(order, order)]
        timed = timetable(self.routes.problem, self.tech, self.day, sequence, sub, bounds)
        return None if timed is None else timed[0]

    def insertions(self, later_step: int | None) -> list[Insertion]:
        """Every feasible position; with ``later_step`` the cheapest one also later."""
        out = [
            Insertion(self.visit.id, route, pos, cost)
            for pos, cost in enumerate(self.costs)
            if (route := self.at(pos, None)) is not None
        ]
        if later_step and out:
            best = min(out, key=lambda i: (i.cost, i.position))
            shift = self.tech.shift_on(self.day)
            assert shift is not None
            start = (best.stop.start // later_step + 1) * later_step
            while start + self.visit.service <= shift.end:
                if (route := self.at(best.position, start)) is not None:
                    out.append(Insertion(self.visit.id, route, best.position, best.cost))
                start += later_step
        return out


def _days(problem: Problem, plan: Plan, visit_id: str, days: Collection[int] | None) -> list[_Day]:
    """The technician-days the visit could go to (skill, shift, open that day), in the
    plan without it."""
    routes = _Routes(problem, without_visit(problem, plan, visit_id))
    visit = routes.visits[visit_id]
    return [
        _Day(routes, tech, day, visit)
        for tech in problem.technicians
        if tech.can_do(visit) and visit.pin_technician in (None, tech.id)
        for day in range(problem.horizon.num_days)
        if (days is None or day in days)
        and tech.shift_on(day) is not None
        and visit.windows_on(day) != ()
    ]


def _cheapest_first(found: list[Insertion]) -> list[Insertion]:
    return sorted(found, key=lambda i: (i.cost, i.route.day, i.stop.start, i.route.technician_id))


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
    found: list[Insertion] = []
    for day in _days(problem, plan, visit_id, days):
        found += day.insertions(later_step)
    return _cheapest_first(found)


def _keyed(
    found: list[Insertion], step: int, exclude: Collection[tuple[int, int]]
) -> dict[tuple[int, int], Insertion]:
    """The cheapest insertion per (day, window start), the excluded ones left out."""
    best: dict[tuple[int, int], Insertion] = {}
    for ins in _cheapest_first(found):
        key = (ins.route.day, ins.stop.start // step * step)
        if key not in exclude and key not in best:
            best[key] = ins
    return best


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
    pairs not to offer (the slot the visit holds now). Sorted by day and window.

    Technician-days are tried in the order of the least drive their positions could add,
    and no further once ``limit`` days have a slot cheaper than anything the rest could
    add: the answer is the one that trying them all gives, for a fraction of the work."""
    candidates = sorted(_days(problem, plan, visit_id, days), key=lambda d: min(d.costs))
    found: list[Insertion] = []
    cheapest: dict[int, int] = {}  # day -> the cheapest slot found on it
    tried = 0
    while tried < len(candidates):
        if len(cheapest) >= limit:
            enough = sorted(cheapest.values())[limit - 1]
            if min(candidates[tried].costs) > enough:
                break
        for ins in candidates[tried].insertions(step):
            found.append(ins)
            if (ins.route.day, ins.stop.start // step * step) not in exclude:
                d = ins.route.day
                cheapest[d] = min(cheapest.get(d, ins.cost), ins.cost)
        tried += 1
    if len(cheapest) < limit:  # not enough days: any slot may be wanted, try them all
        found += [i for d in candidates[tried:] for i in d.insertions(step)]
    best = _keyed(found, step, exclude)
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
