"""``fieldrecall recall ...``: declare (or dry-run) a recall, re-evaluate it, show its ledger,
close it. Each command owns its transaction."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from api.output import describe_ledger, fail
from core.db import transaction
from core.errors import AppError, InvalidInput
from recall.campaigns import ledger
from recall.campaigns import service as campaigns
from recall.campaigns.schemas import CampaignIn

recall_app = typer.Typer(help="Recall campaigns.")


def _serial_range(text: str) -> dict[str, str]:
    first, sep, last = text.partition("..")
    if not sep or not first or not last:
        raise typer.BadParameter(f"{text!r}: write a serial range as FIRST..LAST")
    return {"first": first, "last": last}


def _spec(**fields: Any) -> CampaignIn:
    try:
        return CampaignIn.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise InvalidInput(problems) from exc


@recall_app.command("declare")
def declare_cmd(
    title: str = typer.Option(..., help="what the recall is about"),
    remedy: str = typer.Option(..., help="what technicians do to each unit"),
    batch: list[str] = typer.Option([], "--batch", help="batch key (repeatable)"),
    model: list[str] = typer.Option([], "--model", help="model (repeatable)"),
    serial_range: list[str] = typer.Option([], "--serial-range", help="FIRST..LAST"),
    installed_from: datetime | None = typer.Option(None, formats=["%Y-%m-%d"]),
    installed_to: datetime | None = typer.Option(None, formats=["%Y-%m-%d"]),
    region: Path | None = typer.Option(
        None, exists=True, dir_okay=False, help="a GeoJSON Polygon or MultiPolygon file"
    ),
    minutes_per_unit: int = typer.Option(20),
    minutes_per_visit: int = typer.Option(15),
    skill: str | None = typer.Option(None, help="required technician skill"),
    deadline: datetime | None = typer.Option(None, formats=["%Y-%m-%d"]),
    priority_rule: str = typer.Option("coldest_then_most_units"),
    signal: int | None = typer.Option(None, help="the detection signal this answers"),
    idempotency_key: str | None = typer.Option(None, help="makes a retried command safe"),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="show what it would cover; change nothing"
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Declare a recall (after a --dry-run): snapshot the units, open site visits, tell partners."""

    try:
        region_json = json.loads(region.read_text()) if region else None
        if isinstance(region_json, dict) and region_json.get("type") == "Feature":
            region_json = region_json.get("geometry")
        spec = _spec(
            title=title,
            remedy=remedy,
            scope={
                "batch_keys": batch,
                "models": model,
                "serial_ranges": [_serial_range(r) for r in serial_range],
                "installed_from": installed_from.date() if installed_from else None,
                "installed_to": installed_to.date() if installed_to else None,
                "region": region_json,
            },
            minutes_per_unit=minutes_per_unit,
            minutes_per_visit=minutes_per_visit,
            required_skill=skill,
            deadline=deadline.date() if deadline else None,
            priority_rule=priority_rule,
            signal_id=signal,
        )
        with transaction() as session:
            if dry_run:
                result = campaigns.dry_run(session, spec=spec)
                out: dict[str, Any] = result.model_dump(mode="json")
            else:
                # The support leads' namespace of keys: a key used through the API
                # replays here too.
                _, out = campaigns.declare_once(
                    session, spec=spec, actor="cli", tenant="support_lead", key=idempotency_key
                )
    except json.JSONDecodeError as exc:
        fail(InvalidInput(f"{region}: not JSON ({exc})"))
    except AppError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(out, indent=2))
    elif dry_run:
        typer.echo(
            f"dry run (nothing changed): {out['units']} units at {out['sites']} sites of "
            f"{out['partners']} partners; about {out['estimated_minutes'] / 60:.1f} hours on site"
        )
    else:
        typer.echo(
            f"recall {out['id']} declared: {out['unit_count']} units at {out['site_count']} "
            f"sites of {out['partner_count']} partners; partners' notices are in the outbox"
        )


@recall_app.command("reevaluate")
def reevaluate_cmd(campaign_id: int = typer.Argument(...)) -> None:
    """Add units that entered the scope since the declaration (none is ever dropped)."""

    try:
        with transaction() as session:
            result = campaigns.reevaluate(session, campaign_id=campaign_id, actor="cli")
    except AppError as exc:
        fail(exc)
    typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))


@recall_app.command("ledger")
def ledger_cmd(
    campaign_id: int = typer.Argument(...),
    follow_up_days: int = typer.Option(3),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Counts per state and partner, the follow-up list and the 24-hour promise."""

    try:
        with transaction() as session:
            campaigns.get_campaign(session, campaign_id=campaign_id, partner_id=None)
            result = ledger.campaign_ledger(
                session, campaign_id=campaign_id, partner_id=None, follow_up_days=follow_up_days
            )
    except AppError as exc:
        fail(exc)
    typer.echo(
        json.dumps(result.model_dump(mode="json"), indent=2) if as_json else describe_ledger(result)
    )


@recall_app.command("close")
def close_cmd(
    campaign_id: int = typer.Argument(...),
    note: str | None = typer.Option(None, help="why, for the record"),
) -> None:
    """Close a complete recall (every unit fixed or waived); partners are told."""

    try:
        with transaction() as session:
            campaign = campaigns.close_campaign(
                session, campaign_id=campaign_id, actor="cli", note=note
            )
            out = campaigns.campaign_out(session, campaign, partner_id=None)
    except AppError as exc:
        fail(exc)
    typer.echo(
        f"recall {out.id} is {out.status} ({out.unit_count} units, every one fixed or "
        "waived); partners' notices are in the outbox"
    )
