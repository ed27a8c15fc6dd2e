"""Re-planning: apply a change to a problem and re-solve close to the previous plan.

Frozen visits (those of ``today`` and any the partner confirmed) are pinned to their
previous technician, day and start time. Every other visit pays ``move_cost`` (in drive
time units) when it lands on a technician-day other than its previous one, and the
search starts from the previous routes, so it only moves what the change forces or
what saves more driving than the move costs.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np

from routing.engine.model import Stability, precheck, vehicle_days
from routing.engine.problem import Plan, Problem, TimeWindow, Visit
from routing.engine.solver import SolverOptions, solve
from routing.engine.territories import DEFAULT_MAX_VISITS, sub_problem


@dataclass(frozen=True)
class Change:
    """What happened since the previous plan.

    ``absences``: (technician id, day) pairs the technician will not work;
    ``closures``: (visit id, day) pairs the site is closed; ``new_visits`` to add;
    ``done``: visit ids finished (removed from the problem); ``confirmed``: visit ids the
    partner confirmed (frozen); ``today``: the day whose visits are frozen (None: none).
    """

    absences: frozenset[tuple[str, int]] = frozenset()
    closures: frozenset[tuple[str, int]] = frozenset()
    new_visits: tuple[Visit, ...] = ()
    done: frozenset[str] = frozenset()
    confirmed: frozenset[str] = frozenset()
    today: int | None = None


DEFAULT_REPLAN_OPTIONS = SolverOptions(
    time_limit_s=10.0,
    first_solution="LOCAL_CHEAPEST_INSERTION",
    metaheuristic="GUIDED_LOCAL_SEARCH",
)


def apply_change(problem: Problem, previous: Plan, change: Change) -> Problem:
    """The problem after ``change``, with frozen visits pinned to their previous slot."""
    absent: dict[str, set[int]] = {}
    for tech_id, day in change.absences:
        absent.setdefault(tech_id, set()).add(day)
    techs = tuple(
        dataclasses.replace(t, days_off=t.days_off | frozenset(absent[t.id]))
        if t.id in absent
        else t
        for t in problem.technicians
    )
    closed: dict[str, set[int]] = {}
    for visit_id, day in change.closures:
        closed.setdefault(visit_id, set()).add(day)
    slot = {s.visit_id: (r.technician_id, r.day, s.start) for r in previous.routes for s in r.stops}
    visits = []
    for v in problem.visits + change.new_visits:
        if v.id in change.done:
            continue
        if v.id in closed:
            windows = dict(v.day_windows)
            windows.update({d: () for d in closed[v.id]})
            v = dataclasses.replace(v, day_windows=windows)
        prev = slot.get(v.id)
        frozen = prev is not None and (v.id in change.confirmed or prev[1] == change.today)
        if frozen and prev is not None:
            tech_id, day, start = prev
            still_possible = day not in absent.get(tech_id, set()) and day not in closed.get(
                v.id, set()
            )
            if still_possible:
                v = dataclasses.replace(
                    v, pin_technician=tech_id, pin_day=day, pin_window=TimeWindow(start, start)
                )
        visits.append(v)
    return dataclasses.replace(problem, visits=tuple(visits), technicians=techs)


def replan(
    problem: Problem,
    previous: Plan,
    change: Change,
    options: SolverOptions | None = None,
    move_cost: int = 120,
    *,
    max_visits: int = DEFAULT_MAX_VISITS,
) -> tuple[Problem, Plan]:
    """Apply ``change`` and re-solve from ``previous``; returns the new problem and plan."""
    new_problem = apply_change(problem, previous, change)
    plan = resolve(
        new_problem, previous, change, options, move_cost=move_cost, max_visits=max_visits
    )
    return new_problem, plan


def resolve(
    problem: Problem,
    previous: Plan,
    change: Change,
    options: SolverOptions | None = None,
    *,
    move_cost: int = 120,
    max_visits: int = DEFAULT_MAX_VISITS,
    matrix: np.ndarray | None = None,
) -> Plan:
    """Re-solve ``problem`` (``change`` already applied) starting from ``previous``.

    Up to ``max_visits`` visits the whole problem is re-solved. Above that, only a
    neighbourhood is: the technicians the change touches (absent, or with a visit gone
    or closed on its planned day), the nearest technician able to serve each visit that
    has no slot yet, and their nearest colleagues while the neighbourhood stays within
    ``max_visits``. Every other route is kept as it was, so a re-plan of a large plan
    takes seconds, not a full solve, and moves nothing it does not have to. The plan's
    ``objective`` is then the re-solved neighbourhood's.
    """
    options = options or DEFAULT_REPLAN_OPTIONS
    if matrix is None:
        matrix = np.asarray(problem.travel.matrix(problem.locations()), dtype=np.int64)
    if len(problem.visits) <= max_visits:
        return _resolve(problem, previous, options, move_cost, matrix)
    group = _neighbourhood(problem, previous, change, matrix, max_visits)
    if not group:
        # Nothing to re-solve; the visits without a slot are those nobody can serve, and
        # they must stay reported with their reason, not drop out of the plan.
        before = previous.assignment()
        _, rejected = precheck(problem, vehicle_days(problem))
        unservable = tuple(u for u in rejected if u.visit_id not in before)
        return _keep(problem, previous, matrix, set(), Plan((), unservable, 0, 0))
    ids = {problem.technicians[t].id for t in group}
    before = previous.assignment()
    visits = [
        i for i, v in enumerate(problem.visits) if v.id not in before or before[v.id][0] in ids
    ]
    sub, sub_m = sub_problem(problem, matrix, sorted(group), visits)
    previous_sub = dataclasses.replace(
        previous, routes=tuple(r for r in previous.routes if r.technician_id in ids)
    )
    return _keep(
        problem, previous, matrix, ids, _resolve(sub, previous_sub, options, move_cost, sub_m)
    )


def _resolve(
    problem: Problem, previous: Plan, options: SolverOptions, move_cost: int, matrix: np.ndarray
) -> Plan:
    initial = {
        s.visit_id: (r.technician_id, r.day, pos)
        for r in previous.routes
        for pos, s in enumerate(r.stops)
    }
    stability = Stability(
        previous={vid: (t, d) for vid, (t, d, _) in initial.items()}, move_cost=move_cost
    )
    return solve(problem, options, initial=initial, stability=stability, matrix=matrix)


def _neighbourhood(
    problem: Problem, previous: Plan, change: Change, matrix: np.ndarray, max_visits: int
) -> set[int]:
    """Technician indexes to re-solve (see ``resolve``); empty when nothing changed."""
    n_v = len(problem.visits)
    tech_index = {t.id: k for k, t in enumerate(problem.technicians)}
    present = {v.id for v in problem.visits}
    group: set[int] = set()
    for tid, _ in change.absences:
        if tid in tech_index:
            group.add(tech_index[tid])
    closed = {(vid, d) for vid, d in change.closures}
    load = [0] * len(problem.technicians)
    for r in previous.routes:
        k = tech_index.get(r.technician_id)
        if k is None:
            continue
        for s in r.stops:
            load[k] += 1
            if s.visit_id not in present or (s.visit_id, r.day) in closed:
                group.add(k)
    before = previous.assignment()
    loose = [i for i, v in enumerate(problem.visits) if v.id not in before]
    for i in loose:
        able = [k for k, t in enumerate(problem.technicians) if t.can_do(problem.visits[i])]
        if able:
            group.add(min(able, key=lambda k: (matrix[n_v + k, i], k)))
    if not group:
        return group
    homes = matrix[n_v : n_v + len(problem.technicians), n_v : n_v + len(problem.technicians)]
    size = len(loose) + sum(load[k] for k in group)
    others = sorted(
        (k for k in range(len(problem.technicians)) if k not in group),
        key=lambda k: (min(int(homes[g, k]) + int(homes[k, g]) for g in group), k),
    )
    for k in others:
        if size + load[k] > max_visits:
            break
        group.add(k)
        size += load[k]
    return group


def _keep(
    problem: Problem, previous: Plan, matrix: np.ndarray, replaced: set[str], sub: Plan
) -> Plan:
    """``previous``'s routes of technicians not in ``replaced``, plus the re-solved ``sub``."""
    n_v, n_t = len(problem.visits), len(problem.technicians)
    index = {v.id: i for i, v in enumerate(problem.visits)}
    tech_index = {t.id: k for k, t in enumerate(problem.technicians)}
    kept = tuple(r for r in previous.routes if r.technician_id not in replaced)
    drive = 0
    for r in kept:
        t = tech_index[r.technician_id]
        legs = [n_v + t] + [index[s.visit_id] for s in r.stops] + [n_v + n_t + t]
        drive += int(sum(matrix[a, b] for a, b in itertools.pairwise(legs)))
    return Plan(kept + sub.routes, sub.unassigned, drive + sub.drive_time, sub.objective)


def kept_share(
    previous: Plan, new: Plan, exclude: set[str] | frozenset[str] = frozenset()
) -> float:
    """Share of previously served visits (minus ``exclude``) on the same technician-day."""
    before = previous.assignment()
    after = new.assignment()
    ids = [v for v in before if v not in exclude]
    if not ids:
        return 1.0
    return sum(after.get(v) == before[v] for v in ids) / len(ids)
