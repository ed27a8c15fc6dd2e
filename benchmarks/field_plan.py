"""Field-plan benchmark: 2,000 visits, 25 technicians, 10 working days, 300 km region.

Plans the synthetic instance of ``routing_field.py`` (opening hours, skills, lunch
breaks, priorities) through the territory splitter, then removes one technician for
two days and re-plans. Every plan goes through the validator. With ``--split-cost`` it
also measures what the territory split costs on a smaller instance solved both whole
and split at the same time budget. Not run in CI; the last line is one JSON object.

    python benchmarks/field_plan.py [--visits 2000] [--seconds 100] [--split-cost]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from routing_field import field_instance

from routing.problem import Plan, Problem
from routing.replan import Change, kept_share, replan
from routing.solver import SolverOptions
from routing.territories import solve_territories
from routing.validator import validate


def report(name: str, problem: Problem, plan: Plan, seconds: float) -> None:
    violations = validate(problem, plan)
    reasons: dict[str, int] = {}
    for u in plan.unassigned:
        reasons[u.reason] = reasons.get(u.reason, 0) + 1
    late = sum(max(0, d - problem.visit(v).latest_day) for v, (_, d) in plan.assignment().items())
    print(
        f"{name}: {seconds:.1f} s, served {plan.served_count()}/{len(problem.visits)}, "
        f"unassigned {len(plan.unassigned)} {reasons or ''}, "
        f"drive {plan.drive_time / 60:.1f} h, routes {len(plan.routes)}, "
        f"visit-days late {late}, validator violations {len(violations)}"
    )
    for v in violations[:5]:
        print("   ", v)


def split_cost(seconds: float, visits: int, techs: int) -> None:
    """Same instance, same budget: solved whole vs split into two territories."""
    p = field_instance(n_visits=visits, n_techs=techs, seed=11)
    options = SolverOptions(time_limit_s=seconds)
    t0 = time.monotonic()
    whole = solve_territories(p, options, territories=1)
    t1 = time.monotonic()
    report(f"split-cost whole ({visits} visits)", p, whole, t1 - t0)
    parts = solve_territories(p, options, territories=2)
    report(f"split-cost 2 territories ({visits} visits)", p, parts, time.monotonic() - t1)
    extra = (parts.drive_time / max(1, whole.drive_time) - 1) * 100
    print(
        f"split cost: drive {extra:+.1f} %, unassigned {len(parts.unassigned)} vs "
        f"{len(whole.unassigned)} (whole problem on one core, territories on two)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--visits", type=int, default=2000)
    ap.add_argument("--techs", type=int, default=25)
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=100.0, help="planning budget")
    ap.add_argument("--replan-seconds", type=float, default=10.0)
    ap.add_argument("--max-visits", type=int, default=1000, help="territory size")
    ap.add_argument("--split-cost", action="store_true")
    ap.add_argument("--split-visits", type=int, default=800)
    args = ap.parse_args()

    t0 = time.monotonic()
    problem = field_instance(n_visits=args.visits, n_techs=args.techs, n_days=args.days)
    plan = solve_territories(
        problem, SolverOptions(time_limit_s=args.seconds), max_visits=args.max_visits
    )
    plan_seconds = time.monotonic() - t0
    report("plan", problem, plan, plan_seconds)

    absent = problem.technicians[3].id
    change = Change(absences=frozenset({(absent, 2), (absent, 3)}), today=0)
    t1 = time.monotonic()
    new_problem, new_plan = replan(
        problem,
        plan,
        change,
        SolverOptions(
            time_limit_s=args.replan_seconds,
            first_solution="LOCAL_CHEAPEST_INSERTION",
            metaheuristic="GUIDED_LOCAL_SEARCH",
        ),
    )
    replan_seconds = time.monotonic() - t1
    report(f"replan ({absent} absent on days 2-3)", new_problem, new_plan, replan_seconds)
    affected = {
        v for v, slot in plan.assignment().items() if slot[0] == absent and slot[1] in (2, 3)
    }
    kept = kept_share(plan, new_plan, exclude=affected)
    print(f"visits that had to move: {len(affected)}; others kept day and technician: {kept:.1%}")

    if args.split_cost:
        split_cost(
            args.seconds / 2,
            args.split_visits,
            max(4, args.techs * args.split_visits // args.visits),
        )

    print(
        json.dumps(
            {
                "visits": args.visits,
                "plan_seconds": round(plan_seconds, 1),
                "unassigned": len(plan.unassigned),
                "drive_hours": round(plan.drive_time / 60, 1),
                "replan_seconds": round(replan_seconds, 1),
                "kept_share": round(kept, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
