"""What the planner reports about a solved plan: why each left-out visit is out, the
validator's verdict, and the figures stored in ``field_plan.stats``.

Shared by a plan solved in one job and one joined from territories. Travel times come
from the solved matrix when there is one, else from the provider for the few
locations asked (a 10,000-visit plan never builds its whole matrix).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from routing.engine import (
    INSUFFICIENT_CAPACITY,
    Plan,
    Problem,
    TimeWindow,
    Unassigned,
    Violation,
    validate,
)

# A visit no technician can reach, serve and come home from within one shift, even as
# the only stop of the day: more time or more technicians would not help.
OUT_OF_REACH = "out_of_reach"


@dataclass
class Outcome:
    """What the planner produced: the problem it solved, the plan, and its figures
    (``matrix`` is None for a plan joined from territories)."""

    problem: Problem
    plan: Plan
    matrix: np.ndarray | None
    violations: list[Violation]
    stats: dict[str, Any] = field(default_factory=dict)


def _trips(
    problem: Problem, visits: list[int], matrix: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Travel times from every technician's home to each of ``visits`` (techs x visits),
    and from each of them back to every technician's end (visits x techs)."""
    n_v, n_t = len(problem.visits), len(problem.technicians)
    if matrix is not None:
        return matrix[n_v : n_v + n_t][:, visits], matrix[visits][:, n_v + n_t :]
    techs = problem.technicians
    locations = [t.start for t in techs] + [t.end_location for t in techs]
    locations += [problem.visits[i].location for i in visits]
    m = np.asarray(problem.travel.matrix(locations))
    return m[:n_t, 2 * n_t :], m[2 * n_t :, n_t : 2 * n_t]


def _alone_fits(problem: Problem, i: int, out_of: np.ndarray, back_to: np.ndarray) -> bool:
    """Could some technician-day serve visit ``i`` as its only stop? (``out_of`` and
    ``back_to``: travel from each home to it and from it to each end)"""
    visit = problem.visits[i]
    for t, tech in enumerate(problem.technicians):
        if not tech.can_do(visit) or visit.pin_technician not in (None, tech.id):
            continue
        lunch = tech.lunch.duration if tech.lunch else 0
        out, back = int(out_of[t]), int(back_to[t])
        for d in range(problem.horizon.num_days):
            shift = tech.shift_on(d)
            if shift is None:
                continue
            latest = shift.end - back - lunch - visit.service
            windows = visit.windows_on(d)
            if windows is None:
                windows = (TimeWindow(0, problem.horizon.day_length - 1),)
            if any(max(w.start, shift.start + out) <= min(w.end, latest) for w in windows):
                return True
    return False


def explain_unassigned(problem: Problem, plan: Plan, matrix: np.ndarray | None = None) -> Plan:
    """Replace the solver's catch-all ``insufficient_capacity`` by ``out_of_reach`` where
    no technician-day could serve the visit even alone."""
    index = {v.id: i for i, v in enumerate(problem.visits)}
    doubtful = [index[u.visit_id] for u in plan.unassigned if u.reason == INSUFFICIENT_CAPACITY]
    if not doubtful:
        return plan
    out_of, back_to = _trips(problem, doubtful, matrix)
    column = {i: j for j, i in enumerate(doubtful)}
    unassigned = tuple(
        Unassigned(u.visit_id, OUT_OF_REACH)
        if u.reason == INSUFFICIENT_CAPACITY
        and not _alone_fits(
            problem,
            index[u.visit_id],
            out_of[:, column[index[u.visit_id]]],
            back_to[column[index[u.visit_id]]],
        )
        else u
        for u in plan.unassigned
    )
    return dataclasses.replace(plan, unassigned=unassigned)


def plan_stats(problem: Problem, plan: Plan, violations: list[Violation]) -> dict[str, Any]:
    reasons = Counter(u.reason for u in plan.unassigned)
    return {
        "visits": len(problem.visits),
        "technicians": len(problem.technicians),
        "served": plan.served_count(),
        "unassigned": len(plan.unassigned),
        "unassigned_by_reason": dict(sorted(reasons.items())),
        "routes": len(plan.routes),
        "drive_minutes": int(plan.drive_time),
        "objective": int(plan.objective),
        "validator": {
            "ok": not violations,
            "violations": [
                {"kind": v.kind, "subject": v.subject, "detail": v.detail} for v in violations[:50]
            ],
            "violation_count": len(violations),
        },
    }


def outcome(problem: Problem, plan: Plan, matrix: np.ndarray | None, **figures: Any) -> Outcome:
    """Reasons explained, validated, with the stats (``figures`` added to them)."""
    plan = explain_unassigned(problem, plan, matrix)
    violations = validate(problem, plan, matrix)
    stats = plan_stats(problem, plan, violations)
    stats.update(figures)
    return Outcome(problem, plan, matrix, violations, stats)
