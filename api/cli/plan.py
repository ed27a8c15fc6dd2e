"""``fieldrecall plan ...``: start a plan (optionally solving it inline), show it, publish
it, re-plan, and record absences and site closures. Each command owns its transaction."""

from __future__ import annotations

import json
from datetime import datetime

import typer

from api.output import describe_plan, fail
from core.db import transaction
from core.errors import AppError
from core.settings import get_settings
from routing.plans import availability
from routing.plans import service as plans
from routing.plans.run import run_plan

plan_app = typer.Typer(help="Field plans: technicians' routes for a recall.")
DAY = ["%Y-%m-%d"]


def _show(plan_id: int, as_json: bool) -> None:

    with transaction() as session:
        detail = plans.plan_detail(session, plan_id=plan_id)
    if as_json:
        typer.echo(json.dumps(detail.model_dump(mode="json"), indent=2))
    else:
        typer.echo("\n".join(describe_plan(detail)))


def _run_inline(plan_id: int) -> None:

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
        fail(exc)


@plan_app.command("show")
def show_cmd(
    plan_id: int = typer.Argument(...), as_json: bool = typer.Option(False, "--json")
) -> None:
    """A plan's status, progress, figures and (with --json) routes and stops."""

    try:
        _show(plan_id, as_json)
    except AppError as exc:
        fail(exc)


@plan_app.command("list")
def list_cmd(campaign_id: int = typer.Argument(...)) -> None:
    """Every version of a campaign's plan."""

    try:
        with transaction() as session:
            rows = plans.list_plans(session, campaign_id=campaign_id)
    except AppError as exc:
        fail(exc)
    for p in rows:
        typer.echo(
            f"plan {p.id} v{p.version}: {p.status}, {p.first_day}..{p.last_day}, "
            f"by {p.created_by}"
            + (f", based on plan {p.based_on_plan_id}" if p.based_on_plan_id else "")
        )


@plan_app.command("publish")
def publish_cmd(plan_id: int = typer.Argument(...)) -> None:
    """Publish a done plan: visits scheduled, partners told (through the outbox)."""

    try:
        with transaction() as session:
            out = plans.publish(session, plan_id=plan_id, actor="cli")
    except AppError as exc:
        fail(exc)
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
        fail(exc)


def _record_days(
    kind: str, key: str, first_day: datetime, last_day: datetime | None, reason: str | None
) -> list[str]:

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
        fail(exc)


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
