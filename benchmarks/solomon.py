"""Solomon / Gehring & Homberger VRPTW benchmark under the DIMACS convention.

Runs fieldrecall's solver (the product entry point ``routing.engine.solve`` with its
default search, in ``--workers`` processes: a portfolio on small instances, as many
decompositions on large ones), a plain OR-Tools baseline at the same time budget, and
VROOM at exploration level 5 on one thread, and prints each instance's gap to the
DIMACS distance-only best-known solution. Every fieldrecall plan goes through the validator.
Not run in CI. The last line is one JSON object of headline figures.

    python benchmarks/solomon.py [--instances R101 C201 ...] [--seconds 10] [--set gh]
        [--workers 2] [--skip ortools_baseline vroom]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from routing_baselines import plain_ortools, vroom_solve
from routing_instances import bks_table, data_dir, load_instance

from routing.engine import SolverOptions, solve, validate

SOLVERS = ("fieldrecall", "ortools_baseline", "vroom")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--instances", nargs="*", help="instance names (default: all of the set)")
    ap.add_argument("--seconds", type=float, default=10.0, help="wall time per instance")
    ap.add_argument("--set", choices=("solomon", "gh"), default="solomon")
    ap.add_argument("--data", help="folder holding the vrptw benchmark data")
    ap.add_argument("--workers", type=int, default=2, help="fieldrecall portfolio processes")
    ap.add_argument("--skip", nargs="*", default=[], choices=SOLVERS[1:])
    args = ap.parse_args()

    folder = data_dir(args.data)
    if args.set == "solomon":
        bks = bks_table(folder, "solomon_bks.csv")
        files = {p.stem.upper(): p for p in sorted((folder / "solomon_txt").glob("*.txt"))}
    else:
        bks = bks_table(folder, "gh_bks_selected.csv")
        files = {p.stem.upper(): p for p in sorted((folder / "gh_txt").glob("*.txt"))}
    names = [n.upper() for n in args.instances] if args.instances else sorted(files)

    gaps: dict[str, dict[str, float]] = {s: {} for s in SOLVERS}
    fr_seconds: list[float] = []
    invalid = 0
    print(f"{'instance':10} {'bks':>9} | {'fieldrecall':>18} | {'ortools':>18} | {'vroom':>18}")
    for name in names:
        inst = load_instance(files[name], bks[name])
        p = inst.problem
        matrix = p.travel.matrix(p.locations())
        cells = []

        t0 = time.monotonic()
        plan = solve(p, SolverOptions(time_limit_s=args.seconds, num_workers=args.workers))
        fr_seconds.append(time.monotonic() - t0)
        violations = validate(p, plan, matrix, check_drive_time=True)
        invalid += bool(violations)
        if not plan.unassigned and not violations:
            gaps["fieldrecall"][name] = _gap(plan.drive_time, inst.bks)
        cells.append(_cell(plan.drive_time, len(plan.unassigned), inst.bks, violations))

        if "ortools_baseline" not in args.skip:
            res = plain_ortools(p, matrix, args.seconds)
            if res is not None and res[1] == 0:
                gaps["ortools_baseline"][name] = _gap(res[0], inst.bks)
            cells.append(_cell(res[0], res[1], inst.bks) if res else f"{'no solution':>18}")
        else:
            cells.append(f"{'-':>18}")
        if "vroom" not in args.skip:
            cost, missing = vroom_solve(p, matrix)
            if missing == 0:
                gaps["vroom"][name] = _gap(cost, inst.bks)
            cells.append(_cell(cost, missing, inst.bks))
        else:
            cells.append(f"{'-':>18}")
        print(f"{name:10} {inst.bks:9.1f} | " + " | ".join(cells), flush=True)

    active = [s for s in SOLVERS if s == "fieldrecall" or s not in args.skip]
    common = [n for n in names if all(n in gaps[s] for s in active)]
    means = {
        s: round(statistics.fmean(gaps[s][n] for n in common), 3) if common else None
        for s in active
    }
    print(f"\ninstances solved by every solver: {len(common)} of {len(names)}")
    for s in active:
        print(f"  mean gap {s:18} {means[s]} %  feasible {len(gaps[s])}/{len(names)}")
    print(f"  fieldrecall plans failing the validator: {invalid}")
    print(f"  fieldrecall mean wall seconds per instance: {statistics.fmean(fr_seconds):.2f}")
    print(
        json.dumps(
            {
                "instances": len(names),
                "seconds_per_instance": args.seconds,
                "feasible": {s: len(gaps[s]) for s in active},
                "mean_gap_pct": means,
            }
        )
    )


def _gap(total_dimacs: int, bks: float) -> float:
    return (total_dimacs / 10.0 / bks - 1.0) * 100.0


def _cell(total: int, missing: int, bks: float, violations: list | None = None) -> str:
    if violations:
        return f"{'INVALID':>18}"
    if missing:
        return f"{total / 10:9.1f} miss {missing:3d}  "
    return f"{total / 10:9.1f} {_gap(total, bks):+7.2f}%"


if __name__ == "__main__":
    main()
