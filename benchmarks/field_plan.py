"""Field-plan benchmark: 2,000 visits, 25 technicians, 10 working days, 300 km region.

Plans the synthetic instance of ``routing_field.py`` (opening hours, skills, lunch
breaks, priorities) through the territory splitter, then removes one technician for
two days and re-plans. Then, side by side, fieldrecall and VROOM (``make bench``) solve
the same instance without its soft deadlines, which VROOM cannot express: vehicle-days,
time windows, skills and lunch breaks only, so both minimise driving; VROOM's plan is
read back and checked by the same validator. Every plan goes through the validator.
With ``--split-cost`` it also measures what the territory split costs: the same
instance solved whole (a two-process portfolio) and split into territories (two
processes), at the same wall budget, compared on the same recomputed objective. Not
run in CI; the last line is one JSON object.

    python benchmarks/field_plan.py [--visits 2000] [--seconds 100] [--split-cost]
        [--vroom-exploration 5] [--vroom-threads 2] [--vroom-timeout S] [--skip-vroom]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from routing_baselines import vroom_plan
from routing_field import field_instance, plan_cost

from routing.engine import (
    DEFAULT_MAX_VISITS,
    DEFAULT_REPLAN_OPTIONS,
    Change,
    CostWeights,
    Plan,
    Problem,
    SolverOptions,
    kept_share,
    replan,
    solve,
    solve_territories,
    validate,
)

VIOLATIONS: list[int] = []  # per reported plan, for the closing summary


def figures(problem: Problem, plan: Plan, seconds: float) -> dict[str, object]:
    return {
        "seconds": round(seconds, 1),
        "served": plan.served_count(),
        "unassigned": len(plan.unassigned),
        "drive_hours": round(plan.drive_time / 60, 1),
        "routes": len(plan.routes),
        "violations": len(validate(problem, plan, check_drive_time=True)),
    }


def side_by_side(args: argparse.Namespace, problem: Problem) -> dict[str, dict[str, object]]:
    """fieldrecall and VROOM on the instance without soft deadlines, same hard rules."""
    hard = dataclasses.replace(
        problem, costs=CostWeights(unassigned=problem.costs.unassigned, lateness_per_day=0)
    )
    matrix = hard.travel.matrix(hard.locations())
    t0 = time.monotonic()
    ours = solve_territories(
        hard, SolverOptions(time_limit_s=args.seconds), max_visits=args.max_visits, matrix=matrix
    )
    ours_s = time.monotonic() - t0
    report("side by side, fieldrecall (2 processes)", hard, ours, ours_s)
    out = {"fieldrecall": figures(hard, ours, ours_s)}
    if args.skip_vroom:
        return out
    t1 = time.monotonic()
    theirs = vroom_plan(
        hard,
        matrix,
        exploration=args.vroom_exploration,
        threads=args.vroom_threads,
        timeout_s=args.vroom_timeout,
    )
    theirs_s = time.monotonic() - t1
    report(
        f"side by side, VROOM (exploration {args.vroom_exploration}, {args.vroom_threads} threads)",
        hard,
        theirs,
        theirs_s,
    )
    out["vroom"] = figures(hard, theirs, theirs_s)
    print(
        f"drive hours: fieldrecall {ours.drive_time / 60:.1f}, VROOM {theirs.drive_time / 60:.1f} "
        f"({(ours.drive_time / max(1, theirs.drive_time) - 1) * 100:+.2f} %); unassigned: "
        f"fieldrecall {len(ours.unassigned)}, VROOM {len(theirs.unassigned)}"
    )
    return out


def report(name: str, problem: Problem, plan: Plan, seconds: float) -> None:
    violations = validate(problem, plan, check_drive_time=True)
    VIOLATIONS.append(len(violations))
    reasons: dict[str, int] = {}
    for u in plan.unassigned:
        reasons[u.reason] = reasons.get(u.reason, 0) + 1
    visits = {v.id: v for v in problem.visits}
    late = sum(max(0, d - visits[v].latest_day) for v, (_, d) in plan.assignment().items())
    print(
        f"{name}: {seconds:.1f} s, served {plan.served_count()}/{len(problem.visits)}, "
        f"unassigned {len(plan.unassigned)} {reasons or ''}, "
        f"drive {plan.drive_time / 60:.1f} h, routes {len(plan.routes)}, "
        f"visit-days late {late}, cost {plan_cost(problem, plan):.0f}, "
        f"validator violations {len(violations)}",
        flush=True,
    )
    for v in violations[:5]:
        print("   ", v)


def split_cost(args: argparse.Namespace) -> dict[str, object]:
    """Same instance, same wall budget, two cores each: solved whole vs in territories."""
    visits = args.split_visits or args.visits
    techs = max(4, args.techs * visits // args.visits)
    p = field_instance(n_visits=visits, n_techs=techs, n_days=args.days, seed=args.seed)
    options = SolverOptions(time_limit_s=args.split_seconds or args.seconds)
    k = max(2, -(-visits // args.max_visits))
    t0 = time.monotonic()
    whole = solve(p, SolverOptions(time_limit_s=options.time_limit_s, num_workers=2))
    t1 = time.monotonic()
    report(f"split-cost: whole, 2-process portfolio ({visits} visits)", p, whole, t1 - t0)
    parts = solve_territories(p, options, territories=k)
    report(f"split-cost: {k} territories, 2 processes", p, parts, time.monotonic() - t1)
    c_whole, c_parts = plan_cost(p, whole), plan_cost(p, parts)
    print(
        f"split cost: objective {(c_parts / c_whole - 1) * 100:+.2f} %, "
        f"drive {(parts.drive_time / max(1, whole.drive_time) - 1) * 100:+.2f} %, "
        f"unassigned {len(parts.unassigned)} split vs {len(whole.unassigned)} whole "
        f"(positive: the split plan is worse)"
    )
    return {
        "territories": k,
        "objective_pct": round((c_parts / c_whole - 1) * 100, 2),
        "drive_pct": round((parts.drive_time / max(1, whole.drive_time) - 1) * 100, 2),
        "unassigned": {"whole": len(whole.unassigned), "split": len(parts.unassigned)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--visits", type=int, default=2000)
    ap.add_argument("--techs", type=int, default=25)
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=100.0, help="planning budget")
    ap.add_argument("--replan-seconds", type=float, default=10.0)
    ap.add_argument("--max-visits", type=int, default=DEFAULT_MAX_VISITS, help="territory size")
    ap.add_argument("--split-cost", action="store_true", help="also measure the split's cost")
    ap.add_argument("--split-visits", type=int, help="instance size for it (default --visits)")
    ap.add_argument("--split-seconds", type=float, help="budget for it (default --seconds)")
    ap.add_argument("--vroom-exploration", type=int, default=5)
    ap.add_argument("--vroom-threads", type=int, default=2)
    ap.add_argument("--vroom-timeout", type=float, help="seconds (default: VROOM's own end)")
    ap.add_argument("--skip-vroom", action="store_true")
    args = ap.parse_args()

    t0 = time.monotonic()
    problem = field_instance(
        n_visits=args.visits, n_techs=args.techs, n_days=args.days, seed=args.seed
    )
    plan = solve_territories(
        problem, SolverOptions(time_limit_s=args.seconds), max_visits=args.max_visits
    )
    plan_seconds = time.monotonic() - t0
    report("plan", problem, plan, plan_seconds)

    absent = problem.technicians[3].id
    change = Change(absences=frozenset({(absent, 2), (absent, 3)}), today=0)
    t1 = time.monotonic()
    options = dataclasses.replace(DEFAULT_REPLAN_OPTIONS, time_limit_s=args.replan_seconds)
    new_problem, new_plan = replan(problem, plan, change, options)
    replan_seconds = time.monotonic() - t1
    report(f"replan ({absent} absent on days 2-3)", new_problem, new_plan, replan_seconds)
    affected = {
        v for v, slot in plan.assignment().items() if slot[0] == absent and slot[1] in (2, 3)
    }
    kept = kept_share(plan, new_plan, exclude=affected)
    print(f"visits that had to move: {len(affected)}; others kept day and technician: {kept:.1%}")

    compared = side_by_side(args, problem)
    split = split_cost(args) if args.split_cost else None

    print(f"plans failing the validator: {sum(1 for n in VIOLATIONS if n)} of {len(VIOLATIONS)}")
    print(
        json.dumps(
            {
                "visits": args.visits,
                "plan_seconds": round(plan_seconds, 1),
                "unassigned": len(plan.unassigned),
                "drive_hours": round(plan.drive_time / 60, 1),
                "replan_seconds": round(replan_seconds, 1),
                "kept_share": round(kept, 4),
                "side_by_side": compared,
                **({"split_cost": split} if split is not None else {}),
            }
        )
    )


if __name__ == "__main__":
    main()
