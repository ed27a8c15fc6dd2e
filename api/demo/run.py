"""The main job, end to end, on the demo scenario: what ``make demo`` runs.

Each step owns its transaction, so a step that fails leaves the earlier ones in place and
re-running the demo is safe (imports are idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import select

from api.demo_plan import plan_and_publish
from api.demo_recall import declare_flagged
from api.keys import create_key
from api.links_router import link_urls
from core.db import transaction
from core.links import new_link_token
from devices.demo import DemoSpec, DemoSummary, generate
from devices.importer import ImportResult, import_directory
from devices.models import Partner, Technician
from recall.campaign_models import VisitRequest
from routing.plan_models import FieldPlan, PlanRoute


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
        partner_token = new_link_token(session, partner_id=partner_id)
        partner_links = link_urls(partner_token, partner=True, base="")
        sheets = link_urls(
            new_link_token(session, technician_id=technician_id), partner=False, base=""
        )
        report.links = {"partner_status": partner_links["status"], "sheets": sheets["sheets"]}
        if day is not None:
            report.links["first_day_sheet"] = f"{sheets['sheets']}/{day.isoformat()}.html"


def detect_step(report: DemoReport, *, as_of: date) -> None:
    """Run detection on the imported scenario as of its last day (inline, in its own
    transaction, as ``fieldrecall detect`` does) and add the flagged batches, with threshold,
    rate ratio and iceberg, to the report."""
    from api.cli import describe_result
    from recall.detection import create_run, execute_run, run_results

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
        f"  API docs:            {base_url}/docs",
        *(
            f"  {label:<20} {base_url}{report.links[name]}"
            for name, label in (
                ("first_day_sheet", "technician's first-day sheet:"),
                ("sheets", "technician's sheets:"),
                ("partner_status", f"partner {report.partner_key} status:"),
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
