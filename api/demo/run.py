"""The main job, end to end, on the demo scenario: what ``make demo`` runs. Generate the
fleet, import it, detect, declare a recall for every flagged batch (after a dry run), plan
it from tomorrow on (solved here: a demo must not depend on a worker being up), publish
it, then make one key per role and the secret links to show.

Each step owns its transaction, so a step that fails leaves the earlier ones in place and
re-running the demo is safe (imports are idempotent, a batch under recall is left as it
is, a published plan is kept).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from api.demo.scenario import DemoSpec, DemoSummary, generate
from api.keys import create_key
from api.output import describe_ledger, describe_plan, describe_result
from core.db import transaction
from core.links import link_urls, stable_link
from core.settings import get_settings
from devices.importer import ImportResult, import_directory
from devices.models import Batch, Partner, Technician
from recall.campaigns import ledger
from recall.campaigns import service as campaigns
from recall.campaigns.planning import campaign_for_planning, visits_for_planning
from recall.campaigns.reports import follow_up_reports
from recall.campaigns.schemas import CampaignIn, Scope
from recall.detection.repository import run_results
from recall.detection.service import create_run, execute_run
from recall.models import Campaign, Signal, VisitRequest
from routing.plans import service as plans
from routing.plans.models import FieldPlan, PlanRoute
from routing.plans.planner import planning_timezone, technicians_for
from routing.plans.run import run_plan


@dataclass
class DemoReport:
    summary: DemoSummary
    imports: list[ImportResult]
    keys: dict[str, str] = field(default_factory=dict)
    partner_key: str = ""
    technician_key: str = ""
    lines: list[str] = field(default_factory=list)
    detection_run_id: int | None = None
    flagged_batches: list[str] = field(default_factory=list)
    campaign_ids: list[int] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)


def run_demo(
    directory: Path, *, seed: int, spec: DemoSpec | None = None, plan_seconds: float | None = None
) -> DemoReport:
    """The main job: generate, import, detect, declare, plan, publish; then one key per
    role and the secret links to show. Returns what to print."""
    spec = spec or DemoSpec(seed=seed)
    summary = generate(directory, spec)
    with transaction() as session:
        imports = import_directory(session, directory, actor="demo")
        follow_up_reports(session, None, actor="demo", from_partner=False)
    report = DemoReport(summary=summary, imports=imports)
    detect_step(report, as_of=spec.season_end)
    campaign_ids, lines = declare_flagged()
    report.lines.extend(lines)
    report.campaign_ids = campaign_ids
    for campaign_id in campaign_ids:
        report.lines.extend(plan_step(campaign_id, plan_seconds))
    keys_step(report)
    return report


def plan_step(campaign_id: int, seconds: float | None) -> list[str]:
    """Plan and publish the campaign, unless a plan is published already (a re-run)."""
    with transaction() as session:
        published = session.scalar(
            select(FieldPlan.id).where(
                FieldPlan.campaign_id == campaign_id, FieldPlan.status == "published"
            )
        )
    if published is not None:
        return [f"  recall {campaign_id} has published plan {published}"]
    if seconds is None:
        return plan_and_publish(campaign_id)
    return plan_and_publish(campaign_id, seconds=seconds)


def keys_step(report: DemoReport) -> None:
    """One key per role, for a partner and a technician the recall concerns (the
    technician with the first route of the published plan), and their secret links."""
    with transaction() as session:
        first_route = session.execute(
            select(Technician.id, Technician.technician_key, PlanRoute.day)
            .join(PlanRoute, PlanRoute.technician_id == Technician.id)
            .join(FieldPlan, FieldPlan.id == PlanRoute.plan_id)
            .where(FieldPlan.status == "published")
            .order_by(PlanRoute.day, Technician.technician_key)
        ).first()
        partner = session.execute(
            select(Partner.id, Partner.partner_key)
            .join(VisitRequest, VisitRequest.partner_id == Partner.id)
            .order_by(VisitRequest.scheduled_date.is_(None), VisitRequest.priority_rank)
        ).first()
        if partner is None:  # nothing recalled: any partner shows the registry
            partner = session.execute(
                select(Partner.id, Partner.partner_key).order_by(Partner.partner_key)
            ).first()
        day = None
        if first_route is not None:
            technician_id, report.technician_key, day = first_route
        else:  # no published route: any technician shows the registry
            technician_id, report.technician_key = session.execute(
                select(Technician.id, Technician.technician_key).order_by(Technician.technician_key)
            ).one()
        assert partner, "the demo scenario has partners"
        partner_id, report.partner_key = partner
        report.keys = {
            "support_lead": create_key(session, role="support_lead", label="demo"),
            "partner": create_key(
                session, role="partner", partner_key=report.partner_key, label="demo"
            ),
            "technician": create_key(
                session, role="technician", technician_key=report.technician_key, label="demo"
            ),
        }
        # Paths: describe() puts them under the address the demo serves at.
        # The owners' stable links: a second `make demo` prints the same addresses.
        partner_token = stable_link(session, partner_id=partner_id, actor="demo").token
        partner_links = link_urls(partner_token, partner=True, base="")
        sheets = link_urls(
            stable_link(session, technician_id=technician_id, actor="demo").token,
            partner=False,
            base="",
        )
        report.links = {"partner_portal": partner_links["status"] + "/", "sheets": sheets["sheets"]}
        if day is not None:
            report.links["first_day_sheet"] = f"{sheets['sheets']}/{day.isoformat()}"


def detect_step(report: DemoReport, *, as_of: date) -> None:
    """Run detection on the imported scenario as of its last day (inline, in its own
    transaction, as ``fieldrecall detect`` does) and add the flagged batches, with threshold,
    rate ratio and iceberg, to the report."""
    with transaction() as session:
        run = create_run(session, actor="demo", as_of=as_of, enqueue=False)
        execute_run(session, run.id, actor="demo")
        results = run_results(session, run.id)
        window_start = run.window_start
    flagged = [r for r in results if r["flagged"]]
    report.detection_run_id = run.id
    report.flagged_batches = [r["batch_key"] for r in flagged]
    report.lines.append(
        f"  detection run {run.id} ({window_start} to {as_of}, temp_min_c below): "
        f"{len(results)} batches with failures, flagged: "
        f"{', '.join(report.flagged_batches) or 'none'}"
    )
    report.lines.extend(describe_result(r) for r in flagged)


def describe(report: DemoReport, base_url: str) -> str:
    """The text ``make demo`` prints: what was loaded, the URLs and the keys."""
    s = report.summary
    rows = ", ".join(f"{k} {v}" for k, v in s.row_counts.items())
    lines = [
        "fieldrecall demo",
        f"  scenario (seed {s.seed}): {rows}",
        f"  ground truth: cold-sensitive batch {s.cold_batch} below {s.cold_threshold_c:g} C; "
        f"decoy {s.decoy_batch}; cold-installed {s.cold_installed_batch}",
        *report.lines,
        "",
        f"  support lead's console: {base_url}/console/ (sign in with the support lead key)",
        f"  API docs:            {base_url}/docs",
        *(
            f"  {label:<20} {base_url}{report.links[name]}"
            for name, label in (
                ("first_day_sheet", "field app, first day:"),
                ("sheets", "field app, all days:"),
                ("partner_portal", f"partner {report.partner_key} portal:"),
            )
            if name in report.links
        ),
        f"  support lead key:    {report.keys['support_lead']}",
        f"  partner key ({report.partner_key}): {report.keys['partner']}",
        f"  technician key ({report.technician_key}): {report.keys['technician']}",
        "",
        "  try:",
        f"    curl -H 'X-API-Key: {report.keys['partner']}' {base_url}/api/v1/sites",
        f"    curl -H 'X-API-Key: {report.keys['support_lead']}' {base_url}/api/v1/batches",
    ]
    return "\n".join(lines)


def declare_flagged(*, actor: str = "demo") -> tuple[list[int], list[str]]:
    """Declare one recall per new signal; returns the campaign ids (new or already
    active) and the lines ``make demo`` prints."""
    lines: list[str] = []
    campaign_ids: list[int] = []
    with transaction() as session:
        signals = session.execute(
            select(Signal.id, Batch.batch_key, Batch.model)
            .join(Batch, Batch.id == Signal.batch_id)
            .where(Signal.status == "new")
            .order_by(Batch.batch_key)
        ).all()
        active = {
            key: c.id
            for c in session.scalars(select(Campaign).where(Campaign.status == "active"))
            for key in c.scope.get("batch_keys", [])
        }
    for signal_id, batch_key, model in signals:
        if batch_key in active:
            lines.append(f"  batch {batch_key} is already under recall {active[batch_key]}")
            campaign_ids.append(active[batch_key])
            continue
        spec = CampaignIn(
            title=f"{model} batch {batch_key}: failures in the cold",
            scope=Scope(batch_keys=[batch_key]),
            remedy="Replace the power-supply board with the cold-rated revision and "
            "run the self-test.",
            required_skill=model,
            signal_id=signal_id,
        )
        with transaction() as session:
            preview = campaigns.dry_run(session, spec=spec)
        lines.append(
            f"  recall dry run for {batch_key}: {preview.units} units at {preview.sites} "
            f"sites of {preview.partners} partners"
        )
        with transaction() as session:
            campaign = campaigns.declare(
                session, spec=spec, actor=actor, idempotency_key=f"demo:signal:{signal_id}"
            )
            result = ledger.campaign_ledger(session, campaign_id=campaign.id, partner_id=None)
        campaign_ids.append(campaign.id)
        lines.append(f"  recall {campaign.id} declared for batch {batch_key}")
        lines.extend("  " + line for line in describe_ledger(result).splitlines())
    return campaign_ids, lines


DEMO_SECONDS = 45.0
# On-site hours one technician gets through in a day, net of driving (the demo's region
# is wide: about as much driving as work). Only sizes the horizon.
SITE_HOURS_PER_DAY = 3.5


def demo_horizon(campaign_id: int, today: date | None = None) -> tuple[date, date]:
    """From tomorrow, enough calendar days for the skilled technicians to visit every
    site at the demo's pace, plus a margin."""
    settings = get_settings()
    with transaction() as session:
        campaign = campaign_for_planning(session, campaign_id=campaign_id)
        visits = visits_for_planning(session, campaign_id=campaign_id)
        techs = technicians_for(session, campaign.required_skill)
    zone = planning_timezone(settings, visits)
    first = (today or datetime.now(ZoneInfo(zone)).date()) + timedelta(days=1)
    hours = sum(v.estimated_minutes for v in visits) / 60
    workdays = math.ceil(hours / max(1, len(techs)) / SITE_HOURS_PER_DAY)
    days = min(settings.plan_max_days, math.ceil(workdays * 7 / 5) + 3)
    return first, first + timedelta(days=days - 1)


def plan_and_publish(
    campaign_id: int, *, seconds: float = DEMO_SECONDS, today: date | None = None
) -> list[str]:
    """Plan, solve inline, publish; returns the lines ``make demo`` prints."""
    first_day, last_day = demo_horizon(campaign_id, today)
    with transaction() as session:
        plan = plans.start_plan(
            session,
            campaign_id=campaign_id,
            first_day=first_day,
            last_day=last_day,
            seconds=seconds,
            actor="demo",
            settings=get_settings(),
            enqueue=False,
        )
    run_plan(plan.id)
    with transaction() as session:
        detail = plans.plan_detail(session, plan_id=plan.id)
    lines = ["  " + line for line in describe_plan(detail)]
    if detail.status != "done":
        return lines
    with transaction() as session:
        out = plans.publish(session, plan_id=plan.id, actor="demo")
    lines.append(
        f"  plan {plan.id} published: {len(out.new)} visits scheduled; their dates and arrival "
        "windows wait in the outbox until the worker delivers them (the ledger counts them "
        "as not told until then)"
    )
    return lines
