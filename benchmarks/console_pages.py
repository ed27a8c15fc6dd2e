"""Server time of the support lead's console pages on a large fleet: 200,000 units at
2,350 sites, the recall of the cold batch (about 2,000 sites, so a plan of about 2,000
visits), solved and published, with its notices in the outbox and the partners'
confirmations of every other visit in the lead's inbox.

The fleet is the demo scenario scaled up (``api.demo.scenario``), loaded through the
importer; detection flags the cold batch; the recall is declared from its signal (any
technician may do the work), planned over four weeks by the planner inline
(``run_plan``, as ``make demo`` does) and published. Then every console page is loaded
20 times (after one warm-up load) by a signed-in lead, in this process, through the
app's ASGI interface. The time measured is the server's: an ASGI wrapper around the app
takes it from the request's arrival to the last byte of the response body (rendering
included; no network, no browser). The p50 and p95 are printed per page, target p95
<= 500 ms each.

It empties its database, so it never uses DATABASE_URL: it takes BENCH_DATABASE_URL,
else a local ``fieldrecall_bench_console`` database made by scripts/ensure_db.sh.
``--reuse`` measures again on the fleet and plan already loaded.

Usage: python benchmarks/console_pages.py [--units 200000] [--sites 2350] [--loads 20]
       [--plan-seconds 120] [--reuse]
The last line is JSON: {"pages": {page: p95_ms}, "max_p95_ms": X}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_database import bench_database_url  # noqa: E402

# The product reads its database from the environment: point it at the bench database
# before anything builds its settings.
os.environ["DATABASE_URL"] = bench_database_url("fieldrecall_bench_console")

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from api.app import create_app  # noqa: E402
from api.demo.scenario import DemoSpec, generate  # noqa: E402
from api.keys import create_key  # noqa: E402
from core.db import get_engine, transaction, upgrade  # noqa: E402
from core.settings import get_settings  # noqa: E402
from devices.importer import import_directory  # noqa: E402
from recall.campaigns import service as campaigns  # noqa: E402
from recall.campaigns import visits  # noqa: E402
from recall.campaigns.schemas import CampaignIn, Scope  # noqa: E402
from recall.detection.service import create_run, execute_run  # noqa: E402
from recall.models import Campaign, OutboxMessage, Signal, VisitRequest  # noqa: E402
from routing.plans import service as plans  # noqa: E402
from routing.plans.models import FieldPlan, PlanRoute  # noqa: E402
from routing.plans.tasks import run_plan  # noqa: E402

PLAN_DAYS = 28
DEAD_LETTERS = 200


def empty_database() -> None:
    with get_engine().begin() as conn:
        tables = conn.scalars(
            text(
                "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename NOT IN ('alembic_version', 'spatial_ref_sys')"
            )
        ).all()
        # The audit trail refuses TRUNCATE by trigger; this database is the benchmark's own.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


def load(args: argparse.Namespace) -> None:
    """The fleet, detection, the recall from its signal, a solved and published plan."""
    spec = DemoSpec(
        seed=7,
        units=args.units,
        sites=args.sites,
        partners=150,
        technicians=25,
        stations=60,
        towns=20,
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        generate(Path(directory), spec)
        with transaction() as session:
            import_directory(session, Path(directory), actor="bench")
    print(f"fleet generated and imported in {time.perf_counter() - started:.1f} s", flush=True)
    with transaction() as session:
        run = create_run(session, actor="bench", as_of=spec.season_end, enqueue=False)
        execute_run(session, run.id, actor="bench")
    with transaction() as session:
        signal_id, batch_key = session.execute(
            text("SELECT s.id, b.batch_key FROM signal s JOIN batch b ON b.id = s.batch_id")
        ).one()
        campaign = campaigns.declare(
            session,
            spec=CampaignIn(
                title=f"Batch {batch_key}: failures in the cold",
                scope=Scope(batch_keys=[batch_key]),
                remedy="Replace the power-supply board",
                minutes_per_unit=10,
                minutes_per_visit=10,
                signal_id=signal_id,
            ),
            actor="bench",
        )
        campaign_id = campaign.id
        first_day = campaign.declared_at.date() + timedelta(days=1)
        plan = plans.start_plan(
            session,
            campaign_id=campaign_id,
            first_day=first_day,
            last_day=first_day + timedelta(days=PLAN_DAYS - 1),
            seconds=args.plan_seconds,
            actor="bench",
            settings=get_settings(),
            enqueue=False,
        )
    print(f"recall {campaign_id} declared; solving plan {plan.id}", flush=True)
    started = time.perf_counter()
    status = run_plan(plan.id)
    print(f"plan {plan.id} {status} in {time.perf_counter() - started:.1f} s", flush=True)
    with transaction() as session:
        plans.publish(session, plan_id=plan.id, actor="bench")
        # Partners confirm every other scheduled visit: the lead's inbox fills up.
        scheduled = session.execute(
            select(VisitRequest.id, VisitRequest.partner_id)
            .where(VisitRequest.status == "scheduled")
            .order_by(VisitRequest.id)
        ).all()
        for visit_id, partner_id in scheduled[::2]:
            visits.confirm(session, visit_id=visit_id, partner_id=partner_id, actor="partner")
        # Some notices failed for good: the outbox's dead letters (no worker runs here).
        session.execute(
            text(
                "UPDATE outbox_message SET status = 'dead', attempts = 8,"
                " last_error = 'SMTP 550: mailbox unavailable'"
                " WHERE id IN (SELECT id FROM outbox_message ORDER BY id LIMIT :n)"
            ),
            {"n": DEAD_LETTERS},
        )


class Timed:
    """ASGI wrapper: the server time of the last request, from its arrival to the last
    byte of its response body."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last_s = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        started = time.perf_counter()

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last_s = time.perf_counter() - started

        await self.app(scope, receive, timed_send)


def pages() -> dict[str, tuple[str, str, dict[str, str] | None]]:
    """name -> (method, path, form) of every console page the lead loads."""
    with transaction() as session:
        campaign = session.scalars(select(Campaign)).one()
        signal_id = session.scalars(select(Signal.id)).one()
        plan = session.scalars(select(FieldPlan).where(FieldPlan.status == "published")).one()
        route_id = session.scalars(
            select(PlanRoute.id).where(PlanRoute.plan_id == plan.id).order_by(PlanRoute.id)
        ).first()
        batch_key = campaign.scope["batch_keys"][0]
        dead = session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.status == "dead").limit(1)
        )
        assert route_id is not None and dead is not None
    plan_path = f"/console/campaigns/{campaign.id}/plans/{plan.id}"
    return {
        "home": ("GET", "/console/", None),
        "signals": ("GET", "/console/signals", None),
        "signal": ("GET", f"/console/signals/{signal_id}", None),
        "campaigns": ("GET", "/console/campaigns", None),
        "declare_form": ("GET", f"/console/campaigns/new?signal={signal_id}", None),
        "dry_run": (
            "POST",
            "/console/campaigns/dry-run",
            {"title": "again", "remedy": "r", "batch_keys": batch_key},
        ),
        "campaign": ("GET", f"/console/campaigns/{campaign.id}", None),
        "campaign_unread": ("GET", f"/console/campaigns/{campaign.id}?unread=true", None),
        "inbox": ("GET", "/console/inbox", None),
        "inbox_unread": ("GET", "/console/inbox?unread=true", None),
        "plan": ("GET", plan_path, None),
        "plan_last_day": ("GET", f"{plan_path}?day={plan.last_day}", None),
        "plan_progress": ("GET", f"{plan_path}/progress", None),
        "route_sheet": ("GET", f"/console/routes/{route_id}", None),
        "failures": ("GET", "/console/failures", None),
        "failures_filtered": ("GET", "/console/failures?status=linked_to_recall&age=older", None),
        "outbox": ("GET", "/console/outbox", None),
        "outbox_dead": ("GET", "/console/outbox?status=dead", None),
    }


def sign_in(client: TestClient, key: str) -> str:
    form = client.get("/console/login").text
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    signed = client.post(
        "/console/login", data={"api_key": key, "csrf_token": token}, follow_redirects=False
    )
    assert signed.status_code == 303, signed.text
    home = client.get("/console/")
    return home.text.split('<meta name="csrf-token" content="')[1].split('"')[0]


def measure(loads: int) -> dict[str, dict[str, float]]:
    with transaction() as session:
        key = create_key(session, role="support_lead", label="bench")
        counts = session.execute(
            text(
                "SELECT (SELECT count(*) FROM unit), (SELECT count(*) FROM visit_request),"
                " (SELECT count(*) FROM plan_stop), (SELECT count(*) FROM outbox_message),"
                " (SELECT count(*) FROM inbox_item)"
            )
        ).one()
    print(
        f"units {counts[0]}, visits {counts[1]}, planned stops {counts[2]}, "
        f"notices {counts[3]}, inbox items {counts[4]}"
    )
    timed = Timed(create_app())
    out: dict[str, dict[str, float]] = {}
    with TestClient(timed) as client:
        csrf = sign_in(client, key)
        for name, (method, path, form) in pages().items():
            server, wall = [], []
            for i in range(loads + 1):
                started = time.perf_counter()
                if method == "GET":
                    response = client.get(path)
                else:
                    response = client.post(path, data={**(form or {}), "csrf_token": csrf})
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, (name, response.status_code, response.text)
                if i:  # the first load warms caches (templates, the ORM's statements)
                    server.append(timed.last_s * 1000)
                    wall.append(elapsed * 1000)
            out[name] = {
                "p50_ms": float(np.percentile(server, 50)),
                "p95_ms": float(np.percentile(server, 95)),
                "wall_p95_ms": float(np.percentile(wall, 95)),
                "kib": len(response.content) / 1024,
            }
            print(
                f"{name:<18} server p50 {out[name]['p50_ms']:7.1f} ms  "
                f"p95 {out[name]['p95_ms']:7.1f} ms  (wall p95 {out[name]['wall_p95_ms']:7.1f} "
                f"ms, {out[name]['kib']:.0f} KiB)",
                flush=True,
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=200_000)
    parser.add_argument("--sites", type=int, default=2350)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--plan-seconds", type=float, default=120.0)
    parser.add_argument("--reuse", action="store_true", help="measure the fleet already loaded")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    upgrade(os.environ["DATABASE_URL"])
    if not args.reuse:
        empty_database()
        load(args)
    out = measure(args.loads)
    p95 = {name: round(v["p95_ms"], 1) for name, v in out.items()}
    print(json.dumps({"pages": p95, "max_p95_ms": max(p95.values())}))


if __name__ == "__main__":
    main()
