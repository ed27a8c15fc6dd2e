"""Re-planning: apply a change to a problem and re-solve close to the previous plan.

Frozen visits (those of ``today`` and any the partner confirmed) are pinned to their
previous technician, day and start time. Every other visit pays ``move_cost`` (in drive
time units) when it lands on a technician-day other than its previous one, and the
search starts from the previous routes, so it only moves what the change forces or
what saves more driving than the move costs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from routing.model import Stability
from routing.problem import Plan, Problem, TimeWindow, Visit
from routing.solver import SolverOptions, solve


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
) -> tuple[Problem, Plan]:
    """Apply ``change`` and re-solve from ``previous``; returns the new problem and plan."""
    new_problem = apply_change(problem, previous, change)
    initial = {
        s.visit_id: (r.technician_id, r.day, pos)
        for r in previous.routes
        for pos, s in enumerate(r.stops)
    }
    stability = Stability(
        previous={vid: (t, d) for vid, (t, d, _) in initial.items()}, move_cost=move_cost
    )
    plan = solve(
        new_problem, options or DEFAULT_REPLAN_OPTIONS, initial=initial, stability=stability
    )
    return new_problem, plan


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
