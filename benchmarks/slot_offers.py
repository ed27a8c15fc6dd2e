"""Slot offers on a large published plan: 2,000 visits, 25 technicians, 10 working days.

Builds the synthetic field instance of ``routing_field.py`` (towns in a 300 km region,
opening hours with split days, mornings only and a closed weekday) as a real registry
through the importer: one site and partner per visit (1 to 3 units by the visit's
length), technicians at the instance's homes. Declares the recall, plans the two weeks
(Mo-Fr, Mo-Fr) through the product's planner and publishes the plan. Then, for visits
drawn at random, it times ``routing.plans.slots.slot_offers`` exactly as the portal asks
it (a fresh session: the published plan read, the problem built, the engine's cheapest
feasible insertions), and books every offered slot through ``book_slot`` in a
transaction it rolls back: the booking recomputes the slot, validates the whole plan
with the engine's validator, stores and publishes the version; it counts as OK when
it is booked, its stored validator figures say ok, and only that visit moved.

It empties the registry, recall and plan tables of its database, so it never uses
DATABASE_URL: it takes BENCH_DATABASE_URL, else the benchmarks' local ``fieldrecall_bench``
database made by scripts/ensure_db.sh. ``--reuse`` keeps a plan built before.

Usage: python benchmarks/slot_offers.py [--visits 2000] [--techs 25] [--seconds 60]
       [--sample 40] [--book all|N] [--reuse]
The last line is JSON: {"p95_s", "offers", "booked_ok_share"}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from routing_field import field_instance  # noqa: E402

from benchmarks.bench_database import bench_database_url  # noqa: E402
from core.db import upgrade  # noqa: E402
from core.errors import AppError  # noqa: E402
from core.settings import Settings  # noqa: E402
from devices.importer import import_csv  # noqa: E402
from recall.campaigns import service as campaigns  # noqa: E402
from recall.campaigns.schemas import CampaignIn, Scope  # noqa: E402
from recall.models import Campaign, VisitRequest  # noqa: E402
from routing.engine import Problem, TimeWindow  # noqa: E402
from routing.plans import service as plans  # noqa: E402
from routing.plans.models import FieldPlan  # noqa: E402
from routing.plans.slots import Booking, Slot, book_slot, slot_offers  # noqa: E402
from routing.plans.tasks import run_plan  # noqa: E402

TITLE = "Slot offers benchmark"
SKILL = "OU-200"
ZONE = "Europe/Paris"  # the instance lies around 46.5 N, 2.5 E
DAYS = ("Mo", "Tu", "We", "Th", "Fr")
# Visit length -> units at the site (10 minutes per visit + 10 per unit).
UNITS_FOR = {15: 1, 20: 1, 30: 2, 45: 3}


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def opening_hours(windows: tuple[TimeWindow, ...], closed: set[int]) -> str:
    """The instance's windows as opening hours: Mo-Fr, spans, a closed weekday off."""
    spans = ",".join(f"{_hhmm(w.start)}-{_hhmm(w.end)}" for w in windows)
    rules = [f"Mo-Fr {spans}"] + [f"{DAYS[d]} off" for d in sorted(closed)]
    return "; ".join(rules)


def registry_csvs(problem: Problem) -> dict[str, str]:
    """The instance as the registry's CSV files (in import order)."""
    partners = ["partner_key,name,contact_email,contact_phone"]
    sites = ["site_key,partner_key,name,address,lat,lon,timezone,opening_hours"]
    units = ["serial,batch_key,site_key,installed_on,firmware"]
    for i, v in enumerate(problem.visits):
        closed = {d % 5 for d, ws in v.day_windows.items() if ws == ()}
        partners.append(f"P{i:05d},Partner {i},ops{i}@bench.example,")
        sites.append(
            f"S{i:05d},P{i:05d},Site {i},,{v.location.lat:.6f},{v.location.lon:.6f},{ZONE},"
            f'"{opening_hours(v.windows, closed)}"'
        )
        for u in range(UNITS_FOR[v.service]):
            units.append(f"U{i:05d}{u},B1,S{i:05d},2025-03-01,1.0")
    techs = ["technician_key,name,home_lat,home_lon,skills,shift_start,shift_end,workdays"]
    for k, t in enumerate(problem.technicians):
        techs.append(
            f"T{k:02d},Tech {k},{t.start.lat:.6f},{t.start.lon:.6f},{SKILL},08:00,17:00,Mo-Fr"
        )
    return {
        "partners": "\n".join(partners) + "\n",
        "sites": "\n".join(sites) + "\n",
        "batches": "batch_key,model,hardware_rev,manufactured_on\nB1,OU-200,A,2025-01-10\n",
        "units": "\n".join(units) + "\n",
        "technicians": "\n".join(techs) + "\n",
    }


def empty(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE plan_unassigned, plan_stop, plan_route, field_plan, technician_absence,"
                " site_closure, inbox_item, outbox_message, campaign_failure_report,"
                " campaign_unit, visit_request, recall_campaign, signal, detection_result,"
                " detection_run, failure_report, unit, site, batch, technician, partner,"
                " api_key, secret_link, procrastinate_jobs CASCADE"
            )
        )


def build(engine: Engine, args: argparse.Namespace, settings: Settings, monday: date) -> int:
    """The registry, the recall, and its plan published; returns the campaign's id."""
    empty(engine)
    problem = field_instance(n_visits=args.visits, n_techs=args.techs, n_days=10, seed=args.seed)
    t0 = time.monotonic()
    with Session(engine) as session:
        for kind, body in registry_csvs(problem).items():
            import_csv(session, kind, body.encode(), filename=f"{kind}.csv")
        session.commit()
        spec = CampaignIn(
            title=TITLE,
            scope=Scope(batch_keys=["B1"]),
            remedy="Replace the power board",
            minutes_per_unit=10,
            minutes_per_visit=10,
            required_skill=SKILL,
            priority_rule="most_units",
        )
        campaign_id = campaigns.declare(session, spec=spec, actor="bench").id
        plan = plans.start_plan(
            session,
            campaign_id=campaign_id,
            first_day=monday,
            last_day=monday + timedelta(days=11),
            seconds=args.seconds,
            actor="bench",
            settings=settings,
            enqueue=False,
        )
        plan_id = plan.id
        session.commit()
    print(f"registry and recall: {time.monotonic() - t0:.1f} s", flush=True)
    t0 = time.monotonic()
    status = run_plan(plan_id, sessions=sessionmaker(engine), settings=settings, heartbeat=False)
    with Session(engine) as session:
        row = session.get_one(FieldPlan, plan_id)
        stats = row.stats or {}
        print(
            f"plan {plan_id}: {status} in {time.monotonic() - t0:.1f} s, served "
            f"{stats.get('served')}/{stats.get('visits')}, routes {stats.get('routes')}, "
            f"validator ok {stats.get('validator', {}).get('ok')}",
            flush=True,
        )
        plans.publish(session, plan_id=plan_id, actor="bench")
        session.commit()
    return campaign_id


def existing(engine: Engine) -> int | None:
    with Session(engine) as session:
        return session.scalar(
            select(Campaign.id)
            .join(FieldPlan, FieldPlan.campaign_id == Campaign.id)
            .where(Campaign.title == TITLE, FieldPlan.status == "published")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visits", type=int, default=2000)
    parser.add_argument("--techs", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=60.0, help="the plan's solve time")
    parser.add_argument("--sample", type=int, default=40, help="visits asked for offers")
    parser.add_argument("--book", default="all", help="offered slots booked: all, or N")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="keep a plan built before")
    args = parser.parse_args()

    url = bench_database_url("fieldrecall_bench")
    upgrade(url)
    engine = create_engine(url)
    settings = Settings(database_url=url, plan_max_seconds=3600, plan_speed_kmh=70)
    # The plan's two weeks start on the Monday after next; "today" is the Sunday before.
    today = datetime.now(UTC).date()
    monday = today + timedelta(days=(7 - today.weekday()) % 7 + 7)
    campaign_id = existing(engine) if args.reuse else None
    if campaign_id is None:
        campaign_id = build(engine, args, settings, monday)
    with Session(engine) as session:
        published = plans.published_plan(session, campaign_id)
        assert published is not None
        sunday = published.first_day - timedelta(days=1)
        scheduled = sorted(
            session.scalars(
                select(VisitRequest.id).where(
                    VisitRequest.campaign_id == campaign_id, VisitRequest.status == "scheduled"
                )
            )
        )
    rng = np.random.default_rng(args.seed)
    sample = rng.choice(scheduled, size=min(args.sample, len(scheduled)), replace=False)

    latencies: list[float] = []
    offered: list[tuple[int, Slot]] = []
    for visit_id in sample.tolist():
        with Session(engine) as session:
            t0 = time.perf_counter()
            offers = slot_offers(
                session, visit_id=visit_id, partner_id=None, settings=settings, today=sunday
            )
            latencies.append(time.perf_counter() - t0)
        offered += [(visit_id, slot) for slot in offers.slots]
    p95 = float(np.percentile(latencies, 95))
    print(
        f"offers for {len(latencies)} visits: p50 {statistics.median(latencies):.3f} s, "
        f"p95 {p95:.3f} s, max {max(latencies):.3f} s; {len(offered)} slots offered "
        f"({len(offered) / len(latencies):.2f} per visit)",
        flush=True,
    )

    to_book = offered if args.book == "all" else offered[: int(args.book)]
    ok, book_seconds = 0, []
    for visit_id, slot in to_book:
        with Session(engine) as session:
            t0 = time.perf_counter()
            try:
                booking = book_slot(
                    session,
                    visit_id=visit_id,
                    partner_id=None,
                    day=slot.day,
                    window_start=slot.window_start,
                    actor="bench",
                    settings=settings,
                    today=sunday,
                )
            except AppError as refused:  # e.g. another visit would have moved too
                booking = Booking(f"refused: {refused.detail}")
            book_seconds.append(time.perf_counter() - t0)
            stats = session.get_one(FieldPlan, booking.plan_id).stats if booking.plan_id else None
            if booking.outcome == "booked" and stats and stats["validator"]["ok"]:
                ok += 1
            else:
                print(f"visit {visit_id} at {slot}: {booking.outcome}", flush=True)
            session.rollback()
    share = ok / len(to_book) if to_book else 0.0
    print(
        f"booked {ok} of {len(to_book)} offered slots validator-clean "
        f"(each {statistics.median(book_seconds) if book_seconds else 0:.2f} s median)",
        flush=True,
    )
    print(json.dumps({"p95_s": round(p95, 3), "offers": len(offered), "booked_ok_share": share}))


if __name__ == "__main__":
    main()
