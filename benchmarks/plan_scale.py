"""Scale-out of planning: one large plan solved by 1, then 2 worker processes.

Loads a synthetic fleet through the product's importer (10,000 sites with one recalled
unit each, clustered around towns in a 500 km x 500 km region, 100 technicians living
amid the sites (k-means centres), Mo-Fr 08:00-17:00 with a 30-minute lunch), declares the recall,
then plans it over two working weeks (10 working days) twice, each time as the product
does: ``start_plan`` queues the plan, and real ``fieldrecall worker`` processes (1, then
2) split it into territory jobs, solve them and join them. It prints, per run, the wall
time from queueing to done, the split of that time, the plan's figures (drive hours,
unassigned by reason, the validator), and at the end the acceptance checks.

It empties the tables of its database, so it never uses DATABASE_URL: it takes
BENCH_DATABASE_URL, else a local ``fieldrecall_bench_plans`` database made by
scripts/ensure_db.sh.

Usage: python benchmarks/plan_scale.py [--visits 10000] [--technicians 100]
       [--seconds 400] [--workers 1,2]
The last line is JSON: {"visits", "workers": {"1": {...}, "2": {...}}, "speedup"}.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_database import bench_database_url  # noqa: E402
from core.db import upgrade  # noqa: E402
from core.settings import get_settings  # noqa: E402
from devices.importer import import_csv  # noqa: E402
from recall.campaigns.schemas import CampaignIn, Scope  # noqa: E402
from recall.campaigns.service import declare  # noqa: E402
from routing.plans import service as plans  # noqa: E402
from routing.plans.models import FieldPlan, PlanTerritory  # noqa: E402

FIRST_DAY = date(2026, 11, 30)  # a Monday: two working weeks to Friday 2026-12-11
LAST_DAY = FIRST_DAY + timedelta(days=11)
CENTRE = (46.5, 2.5)
KM_PER_DEG = 111.0
HOURS = (
    ("Mo-Fr 08:00-17:00", 0.7),
    ("Mo-Fr 08:00-12:00,13:30-17:30", 0.15),
    ("Mo-Fr 07:30-13:00", 0.05),
    ("Mo,Tu,Th,Fr 08:00-17:00", 0.1),
)
WORKER_SETTINGS = {"FIELDRECALL_WORKER_POLL_INTERVAL_S": "0.5"}


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _centres(pts: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means centres of the sites (Lloyd, 20 rounds): technicians live where the work
    is, each amid about as many sites as the others."""
    centres = pts[rng.choice(len(pts), size=k, replace=False)]
    for _ in range(20):
        nearest = ((pts[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
        for c in range(k):
            members = pts[nearest == c]
            if len(members):
                centres[c] = members.mean(axis=0)
    return centres


def fleet(visits: int, technicians: int, seed: int) -> dict[str, bytes]:
    """Partners, sites, one batch, one unit per site and the technicians, as CSV."""
    rng = np.random.default_rng(seed)
    half = 250.0
    towns = rng.uniform(-half * 0.9, half * 0.9, size=(max(20, visits // 60), 2))
    weight = rng.pareto(1.5, len(towns)) + 1
    weight /= weight.sum()
    town = rng.choice(len(towns), size=visits, p=weight)
    pts = np.clip(towns[town] + rng.normal(0, 8.0, size=(visits, 2)), -half, half)
    cos = np.cos(np.radians(CENTRE[0]))
    lat = CENTRE[0] + pts[:, 1] / KM_PER_DEG
    lon = CENTRE[1] + pts[:, 0] / (KM_PER_DEG * cos)
    names, probs = zip(*HOURS, strict=True)
    hours = rng.choice(len(names), size=visits, p=np.array(probs))
    partners = max(1, visits // 50)
    homes = _centres(pts, technicians, rng)
    return {
        "partners": _csv(
            ["partner_key", "name"], [[f"P{p:05d}", f"Partner {p}"] for p in range(partners)]
        ),
        "sites": _csv(
            ["site_key", "partner_key", "name", "lat", "lon", "timezone", "opening_hours"],
            [
                [
                    f"S{i:05d}",
                    f"P{i % partners:05d}",
                    f"Site {i}",
                    f"{lat[i]:.5f}",
                    f"{lon[i]:.5f}",
                    "Europe/Paris",
                    names[hours[i]],
                ]
                for i in range(visits)
            ],
        ),
        "batches": _csv(["batch_key", "model"], [["B1", "OU-200"]]),
        "units": _csv(
            ["serial", "batch_key", "site_key", "installed_on"],
            [[f"U{i:06d}", "B1", f"S{i:05d}", "2025-03-01"] for i in range(visits)],
        ),
        "technicians": _csv(
            [
                "technician_key",
                "name",
                "home_lat",
                "home_lon",
                "skills",
                "shift_start",
                "shift_end",
                "workdays",
            ],
            [
                [
                    f"T{t:03d}",
                    f"Technician {t}",
                    f"{CENTRE[0] + homes[t, 1] / KM_PER_DEG:.5f}",
                    f"{CENTRE[1] + homes[t, 0] / (KM_PER_DEG * cos):.5f}",
                    "OU-200",
                    "08:00",
                    "17:00",
                    "Mo-Fr",
                ]
                for t in range(technicians)
            ],
        ),
    }


def load(engine: Engine, args: argparse.Namespace) -> int:
    """Empty the database, import the fleet, declare the recall; returns its id."""
    with engine.begin() as conn:
        tables = conn.scalars(
            text(
                "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename NOT IN ('alembic_version', 'spatial_ref_sys', 'event')"
            )
        ).all()
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    files = fleet(args.visits, args.technicians, args.seed)
    with Session(engine) as session, session.begin():
        for kind in ("partners", "sites", "batches", "units", "technicians"):
            import_csv(session, kind, files[kind], filename=f"{kind}.csv")
    spec = CampaignIn(
        title="OU-200 cold boot",
        scope=Scope(batch_keys=["B1"]),
        remedy="Replace the power board",
        minutes_per_unit=15,
        minutes_per_visit=5,
        required_skill="OU-200",
    )
    with Session(engine) as session, session.begin():
        campaign = declare(session, spec=spec, actor="benchmark", today=FIRST_DAY)
        return campaign.id


def start_workers(url: str, n: int, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    exe = Path(sys.executable).with_name("fieldrecall")
    env = {**os.environ, "DATABASE_URL": url, **WORKER_SETTINGS}
    procs = []
    for k in range(n):
        out = (log_dir / f"worker-{n}-{k}.log").open("ab")
        procs.append(subprocess.Popen([str(exe), "worker"], env=env, stdout=out, stderr=out))
    return procs


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()


def run(
    engine: Engine, url: str, campaign_id: int, workers: int, args: argparse.Namespace
) -> dict[str, Any]:
    load_avg = os.getloadavg()[0]
    settings = get_settings()
    procs = start_workers(url, workers, args.log_dir)
    time.sleep(args.warm_up)  # the workers start (and import) before the clock does
    try:
        with Session(engine) as session, session.begin():
            plan = plans.start_plan(
                session,
                campaign_id=campaign_id,
                first_day=FIRST_DAY,
                last_day=LAST_DAY,
                seconds=args.seconds,
                actor="benchmark",
                settings=settings,
            )
            plan_id = plan.id
        t0 = time.monotonic()
        status = "queued"
        while status not in ("done", "failed"):
            time.sleep(0.5)
            with Session(engine) as session:
                status = session.scalar(select(FieldPlan.status).where(FieldPlan.id == plan_id))
            if time.monotonic() - t0 > args.give_up:
                raise SystemExit(f"plan {plan_id} not done after {args.give_up} s")
        wall = time.monotonic() - t0
    finally:
        stop_workers(procs)
    with Session(engine) as session:
        row = session.get_one(FieldPlan, plan_id)
        territories = session.scalars(
            select(PlanTerritory).where(PlanTerritory.plan_id == plan_id)
        ).all()
    stats = row.stats or {}
    assert row.started_at is not None and row.finished_at is not None
    first_start = min(t.started_at for t in territories if t.started_at)
    last_end = max(t.finished_at for t in territories if t.finished_at)
    reasons = stats.get("unassigned_by_reason", {})
    return {
        "status": row.status,
        "error": row.error,
        "seconds": round(wall, 1),
        "load_average_at_start": round(load_avg, 2),
        "split_seconds": round((first_start - row.started_at).total_seconds(), 1),
        "territories": row.territories,
        "territory_seconds": round((last_end - first_start).total_seconds(), 1),
        "territory_attempts": sum(t.attempts for t in territories),
        "join_seconds": stats.get("join_seconds"),
        "store_seconds": round((row.finished_at - last_end).total_seconds(), 1),
        "served": stats.get("served"),
        "unassigned": stats.get("unassigned"),
        "unassigned_by_reason": reasons,
        "unassigned_servable": reasons.get("insufficient_capacity", 0),
        "drive_hours": round(stats.get("drive_minutes", 0) / 60, 1),
        "routes": stats.get("routes"),
        "validator_ok": stats.get("validator", {}).get("ok"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--visits", type=int, default=10_000)
    ap.add_argument("--technicians", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=400.0, help="the plan's time limit")
    ap.add_argument("--workers", default="1,2", help="worker counts to run, in order")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--warm-up", type=float, default=5.0, help="seconds the workers get to start")
    ap.add_argument("--give-up", type=float, default=3600.0)
    ap.add_argument("--log-dir", type=Path, default=Path("var/plan_scale"))
    args = ap.parse_args()
    args.log_dir.mkdir(parents=True, exist_ok=True)

    url = bench_database_url("fieldrecall_bench_plans")
    upgrade(url)
    engine = create_engine(url)
    t0 = time.monotonic()
    campaign_id = load(engine, args)
    print(f"fleet loaded and recall declared: {time.monotonic() - t0:.1f} s", flush=True)

    results: dict[str, dict[str, Any]] = {}
    for n in (int(w) for w in args.workers.split(",")):
        results[str(n)] = res = run(engine, url, campaign_id, n, args)
        print(f"{n} worker(s): " + ", ".join(f"{k} {v}" for k, v in res.items()), flush=True)

    speedup = None
    if "1" in results and "2" in results:
        one, two = results["1"], results["2"]
        both = one["status"] == two["status"] == "done"
        speedup = round(one["seconds"] / two["seconds"], 2) if both else None
        drift = (two["drive_hours"] / one["drive_hours"] - 1) * 100 if both else None
        checks = {
            "both plans done": both,
            "2 workers <= 300 s": two["seconds"] <= 300,
            "speed-up >= 1.7": speedup is not None and speedup >= 1.7,
            "drive hours within 3 % of 1 worker": drift is not None and abs(drift) <= 3,
            "0 unassigned a technician could serve": all(
                r["unassigned_servable"] == 0 for r in results.values()
            ),
            "validator clean": all(r["validator_ok"] is True for r in results.values()),
        }
        if both:
            print(f"speed-up {speedup}, drive {drift:+.2f} % with 2 workers")
        for name, ok in checks.items():
            print(f"  {'ok  ' if ok else 'MISS'} {name}")
    print(json.dumps({"visits": args.visits, "workers": results, "speedup": speedup}))


if __name__ == "__main__":
    main()
