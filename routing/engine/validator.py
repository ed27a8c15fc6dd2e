"""Independent plan checker: recomputes every time from the travel matrix.

Deliberately imports nothing from the solver or the OR-Tools model, so a modelling bug
there cannot hide itself here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from routing.engine.problem import Plan, Problem, Route, Stop


@dataclass(frozen=True)
class Violation:
    """One broken rule: a kind (e.g. ``time_window``), the visit or route, and details."""

    kind: str
    subject: str
    detail: str


def validate(
    problem: Problem,
    plan: Plan,
    matrix: np.ndarray | None = None,
    *,
    check_drive_time: bool = False,
) -> list[Violation]:
    """Check ``plan`` against ``problem``; an empty list means the plan is valid.

    Without ``matrix`` (over ``problem.locations()``) each route's travel times are
    asked of the provider for that route's own locations, so a large plan is checked
    without its whole matrix. With ``check_drive_time`` the plan's reported
    ``drive_time`` must also equal the sum of its legs (benchmarks report that figure;
    plans read back from storage may not carry it).
    """
    out: list[Violation] = []
    index = {v.id: i for i, v in enumerate(problem.visits)}
    tech_index = {t.id: i for i, t in enumerate(problem.technicians)}

    served = Counter(s.visit_id for r in plan.routes for s in r.stops)
    reported = Counter(u.visit_id for u in plan.unassigned)
    for vid in index:
        total = served[vid] + reported[vid]
        if total == 0:
            out.append(Violation("missing", vid, "neither served nor reported unassigned"))
        elif served[vid] > 1:
            out.append(Violation("served_twice", vid, f"served {served[vid]} times"))
        elif total > 1:
            out.append(Violation("served_and_unassigned", vid, "served and also reported"))
    for vid in set(served) | set(reported):
        if vid not in index:
            out.append(Violation("unknown_visit", vid, "not in the problem"))

    seen_routes: set[tuple[str, int]] = set()
    drive = 0
    for route in plan.routes:
        key = (route.technician_id, route.day)
        name = f"{route.technician_id}/day{route.day}"
        if key in seen_routes:
            out.append(Violation("duplicate_route", name, "two routes for one technician-day"))
        seen_routes.add(key)
        if route.technician_id not in tech_index:
            out.append(Violation("unknown_technician", name, "not in the problem"))
            continue
        if not 0 <= route.day < problem.horizon.num_days:
            out.append(Violation("day", name, "outside the horizon"))
            continue
        t = tech_index[route.technician_id]
        found, legs = _check_route(
            problem, route, _legs(problem, route, t, index, matrix), index, t
        )
        out += found
        drive += legs
    # Benchmarks report plan.drive_time; recomputing it here keeps their figures honest.
    if check_drive_time and not out and drive != plan.drive_time:
        out.append(
            Violation("drive_time", "plan", f"reports {plan.drive_time}, legs sum to {drive}")
        )
    return out


def _legs(
    problem: Problem, route: Route, t: int, index: dict[str, int], matrix: np.ndarray | None
) -> Callable[[int, int], int]:
    """Travel time between two nodes of ``route`` (indexes over problem.locations())."""
    if matrix is not None:
        full = matrix
        return lambda a, b: int(full[a, b])
    n_v, n_t = len(problem.visits), len(problem.technicians)
    tech = problem.technicians[t]
    nodes = [n_v + t] + [index[s.visit_id] for s in route.stops if s.visit_id in index]
    nodes.append(n_v + n_t + t)
    where = {node: j for j, node in enumerate(nodes)}
    locations = [tech.start]
    locations += [problem.visits[i].location for i in nodes[1:-1]]
    locations.append(tech.end_location)
    local = np.asarray(problem.travel.matrix(locations))
    return lambda a, b: int(local[where[a], where[b]])


def _check_route(
    problem: Problem,
    route: Route,
    travel: Callable[[int, int], int],
    index: dict[str, int],
    t: int,
) -> tuple[list[Violation], int]:
    """Violations of one route, and its drive time recomputed from the matrix."""
    out: list[Violation] = []
    tech = problem.technicians[t]
    name = f"{tech.id}/day{route.day}"
    n_v, n_t = len(problem.visits), len(problem.technicians)
    shift = tech.shift_on(route.day)
    if shift is None:
        return [Violation("day_off", name, "technician does not work that day")], 0
    if route.departure < shift.start or route.arrival_home > shift.end:
        out.append(
            Violation(
                "shift",
                name,
                f"works {route.departure}..{route.arrival_home} outside {shift.start}..{shift.end}",
            )
        )
    if tech.max_work is not None and route.arrival_home - route.departure > tech.max_work:
        span = route.arrival_home - route.departure
        out.append(Violation("max_work", name, f"{span} > {tech.max_work}"))

    brk = tech.lunch
    b_start = route.break_start
    b_end = None
    if brk is not None:
        if b_start is None:
            out.append(Violation("break", name, "no break taken"))
        elif not brk.window.start <= b_start <= brk.window.end:
            out.append(Violation("break", name, f"break starts at {b_start}, outside its window"))
        if b_start is not None:
            b_end = b_start + brk.duration

    known = [s for s in route.stops if s.visit_id in index]
    load = sum(problem.visits[index[s.visit_id]].demand for s in known)
    if tech.capacity is not None and load > tech.capacity:
        out.append(Violation("capacity", name, f"load {load} > {tech.capacity}"))

    drive = 0
    prev_loc, prev_end = n_v + t, route.departure
    legs = [(index[s.visit_id], s) for s in known] + [(None, None)]
    for i, stop in legs:
        loc = n_v + n_t + t if i is None else i
        ready = route.arrival_home if stop is None else stop.start
        needed = travel(prev_loc, loc)
        drive += needed
        if b_start is not None and b_end is not None and prev_end < b_end and b_start < ready:
            # The break falls between the previous departure and this start: it must fit
            # entirely in that gap, together with the drive.
            if b_start < prev_end or b_end > ready:
                subject = "home" if stop is None else stop.visit_id
                out.append(Violation("break", name, f"break overlaps work near {subject}"))
            needed += brk.duration if brk is not None else 0
        if ready - prev_end < needed:
            subject = "home" if stop is None else stop.visit_id
            out.append(
                Violation(
                    "travel", name, f"reaches {subject} at {ready}, needs {prev_end}+{needed}"
                )
            )
        if stop is None or i is None:
            break
        out += _check_stop(problem, route, i, stop, tech.id, name)
        prev_loc, prev_end = loc, stop.end
    return out, drive


def _check_stop(
    problem: Problem, route: Route, i: int, stop: Stop, tech_id: str, name: str
) -> list[Violation]:
    out: list[Violation] = []
    visit = problem.visits[i]
    tech = next(t for t in problem.technicians if t.id == tech_id)
    if stop.end - stop.start != visit.service:
        out.append(
            Violation("service", visit.id, f"lasts {stop.end - stop.start}, not {visit.service}")
        )
    if stop.arrival > stop.start:
        out.append(Violation("travel", visit.id, "service starts before arrival"))
    if not tech.can_do(visit):
        out.append(Violation("skill", visit.id, f"{tech_id} lacks skill {visit.skill}"))
    if visit.pin_technician is not None and visit.pin_technician != tech_id:
        out.append(Violation("pin_technician", visit.id, f"pinned to {visit.pin_technician}"))
    if visit.pin_day is not None and visit.pin_day != route.day:
        out.append(Violation("pin_day", visit.id, f"pinned to day {visit.pin_day}"))
    elif visit.days is not None and route.day not in visit.days:
        out.append(Violation("day", visit.id, f"day {route.day} not allowed"))
    windows = visit.windows_on(route.day)
    if windows is not None and not any(w.start <= stop.start <= w.end for w in windows):
        out.append(Violation("time_window", visit.id, f"starts at {stop.start} on day {route.day}"))
    return out
