"""``fieldrecall plan ...``: start a plan (optionally solving it inline), show it, publish
it, re-plan, and record absences and site closures. Each command owns its transaction."""

from __future__ import annotations

import json
from datetime import datetime

import typer

from core.errors import AppError
from routing.plan_schemas import PlanDetailOut

plan_app = typer.Typer(help="Field plans: technicians' routes for a recall.")
DAY = ["%Y-%m-%d"]


def describe_plan(plan: PlanDetailOut) -> list[str]:
    """A plan in a few lines for people (the CLI and ``make demo`` print them)."""
    lines = [
        f"plan {plan.id} (campaign {plan.campaign_id} version {plan.version}): {plan.status}, "
        f"{plan.first_day}..{plan.last_day} ({plan.timezone})"
    ]
    if plan.error:
        lines.append(f"  error: {plan.error}")
    s = plan.stats or {}
    if s:
        reasons = ", ".join(f"{k} {v}" for k, v in s.get("unassigned_by_reason", {}).items())
        lines.append(
            f"  visits planned {s['served']} of {s['visits']}; unassigned {s['unassigned']}"
            + (f" ({reasons})" if reasons else "")
        )
        lines.append(
            f"  {s['routes']} technician-days, drive {s['drive_minutes'] / 60:.1f} h "
            f"({s.get('distance_km', 0):.0f} km), on site {s.get('work_minutes', 0) / 60:.1f} h; "
            f"solved in {s['solve_seconds']:.1f} s (limit {s['time_limit_s']:g} s); "
            f"validator {'ok' if s['validator']['ok'] else 'FAILED'}"
        )
        if "replan" in s:
            r = s["replan"]
            lines.append(
                f"  re-plan: {100 * r['kept_share']:.0f} % of planned visits kept their "
                f"technician-day; {r['frozen']} frozen"
            )
    elif plan.progress:
        lines.append(f"  progress: {json.dumps(plan.progress)}")
    if plan.routes:
        first = plan.routes[0]
        lines.append(
            f"  first route: {first.technician_name} ({first.technician_key}) on {first.day}, "
            f"{len(first.stops)} stops"
        )
    return lines


def _show(plan_id: int, as_json: bool) -> None:
    from core.db import transaction
    from routing import plans

    with transaction() as session:
        detail = plans.plan_detail(session, plan_id=plan_id)
    if as_json:
        typer.echo(json.dumps(detail.model_dump(mode="json"), indent=2))
    else:
        typer.echo("\n".join(describe_plan(detail)))


def _run_inline(plan_id: int) -> None:
    from routing.plan_run import run_plan

    try:
        run_plan(plan_id)
    except Exception as exc:  # recorded on the plan; shown below
        typer.echo(f"the plan failed: {type(exc).__name__}: {exc}", err=True)


@plan_app.command("start")
def start_cmd(
    campaign_id: int = typer.Argument(...),
    first_day: datetime = typer.Option(..., "--from", formats=DAY),
    last_day: datetime = typer.Option(..., "--to", formats=DAY),
    seconds: float | None = typer.Option(None, help="solver time limit"),
    wait: bool = typer.Option(False, "--wait", help="solve here and now, then print the plan"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Start a new plan version (a worker solves it, or this command with --wait)."""
    from api.cli import _fail
    from core.db import transaction
    from core.settings import get_settings
    from routing import plans

    try:
        with transaction() as session:
            plan = plans.start_plan(
                session,
                campaign_id=campaign_id,
                first_day=first_day.date(),
                last_day=last_day.date(),
                seconds=seconds,
                actor="cli",
                settings=get_settings(),
                enqueue=not wait,
            )
        if wait:
            _run_inline(plan.id)
        else:
            typer.echo(f"plan {plan.id} (version {plan.version}) queued; a worker solves it")
            return
        _show(plan.id, as_json)
    except AppError as exc:
        _fail(exc)


@plan_app.command("show")
def show_cmd(
    plan_id: int = typer.Argument(...), as_json: bool = typer.Option(False, "--json")
) -> None:
    """A plan's status, progress, figures and (with --json) routes and stops."""
    from api.cli import _fail

    try:
        _show(plan_id, as_json)
    except AppError as exc:
        _fail(exc)


@plan_app.command("list")
def list_cmd(campaign_id: int = typer.Argument(...)) -> None:
    """Every version of a campaign's plan."""
    from api.cli import _fail
    from core.db import transaction
    from routing import plans

    try:
        with transaction() as session:
            rows = plans.list_plans(session, campaign_id=campaign_id)
    except AppError as exc:
        _fail(exc)
    for p in rows:
        typer.echo(
            f"plan {p.id} v{p.version}: {p.status}, {p.first_day}..{p.last_day}, "
            f"by {p.created_by}"
            + (f", based on plan {p.based_on_plan_id}" if p.based_on_plan_id else "")
        )


@plan_app.command("publish")
def publish_cmd(plan_id: int = typer.Argument(...)) -> None:
    """Publish a done plan: visits scheduled, partners told (through the outbox)."""
    from api.cli import _fail
    from core.db import transaction
    from routing import plans

    try:
        with transaction() as session:
            out = plans.publish(session, plan_id=plan_id, actor="cli")
    except AppError as exc:
        _fail(exc)
    typer.echo(
        f"plan {plan_id} published"
        + (f" (plan {out.superseded_plan_id} superseded)" if out.superseded_plan_id else "")
        + f": {len(out.new)} visits newly scheduled, {len(out.moved)} moved, "
        f"{len(out.unchanged)} unchanged, {len(out.dropped)} back to requested"
    )


@plan_app.command("replan")
def replan_cmd(
    campaign_id: int = typer.Argument(...),
    today: datetime | None = typer.Option(None, formats=DAY, help="default: today"),
    last_day: datetime | None = typer.Option(None, "--to", formats=DAY),
    seconds: float | None = typer.Option(None),
    wait: bool = typer.Option(False, "--wait"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Re-plan from the published plan: today's routes and confirmed visits stay."""
    from api.cli import _fail
    from core.db import transaction
    from core.settings import get_settings
    from routing import plans

    try:
        with transaction() as session:
            plan = plans.start_replan(
                session,
                campaign_id=campaign_id,
                actor="cli",
                settings=get_settings(),
                today=today.date() if today else None,
                last_day=last_day.date() if last_day else None,
                seconds=seconds,
                enqueue=not wait,
            )
        if not wait:
            typer.echo(f"re-plan {plan.id} (version {plan.version}) queued; a worker solves it")
            return
        _run_inline(plan.id)
        _show(plan.id, as_json)
    except AppError as exc:
        _fail(exc)


def _record_days(
    kind: str, key: str, first_day: datetime, last_day: datetime | None, reason: str | None
) -> list[str]:
    from api.cli import _fail
    from core.db import transaction
    from routing import availability

    try:
        with transaction() as session:
            rows = availability.record_days(
                session,
                availability.ABSENCE if kind == "absence" else availability.CLOSURE,
                key=key,
                first_day=first_day.date(),
                last_day=last_day.date() if last_day else None,
                reason=reason,
                actor="cli",
            )
            return [r.day.isoformat() for r in rows]
    except AppError as exc:
        _fail(exc)


@plan_app.command("absence")
def absence_cmd(
    technician: str = typer.Argument(..., help="technician_key"),
    first_day: datetime = typer.Option(..., "--from", formats=DAY),
    last_day: datetime | None = typer.Option(None, "--to", formats=DAY),
    reason: str | None = typer.Option(None),
) -> None:
    """Record that a technician will not work these days."""
    days = _record_days("absence", technician, first_day, last_day, reason)
    typer.echo(f"{technician} absent on {', '.join(days)}")


@plan_app.command("closure")
def closure_cmd(
    site: str = typer.Argument(..., help="site_key"),
    first_day: datetime = typer.Option(..., "--from", formats=DAY),
    last_day: datetime | None = typer.Option(None, "--to", formats=DAY),
    reason: str | None = typer.Option(None),
) -> None:
    """Record that a site is closed these days."""
    days = _record_days("closure", site, first_day, last_day, reason)
    typer.echo(f"{site} closed on {', '.join(days)}")
