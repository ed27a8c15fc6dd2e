"""How the command line speaks to people: domain errors (every bad row of a refused file on
its own line, exit code 2), and the few-line summaries of a detection result, a plan and
a ledger that the CLI and ``make demo`` print."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import typer

from core.errors import AppError
from recall.campaigns.schemas import LedgerOut
from recall.models import UNIT_STATES
from routing.plans.schemas import PlanDetailOut


def fail(exc: AppError) -> NoReturn:
    """Print a domain error for people (every bad row on its own line) and exit non-zero."""
    detail: Any = exc.detail
    if isinstance(detail, dict):
        typer.echo(f"error: {detail.get('message', exc.name)}", err=True)
        file = detail.get("file", "")
        for err in detail.get("errors", []):
            where = f"{file}:{err['line']}"
            if err.get("column"):
                where += f": column {err.get('column_number')} ({err['column']})"
            typer.echo(f"  {where}: {err['reason']}", err=True)
    else:
        typer.echo(f"error: {detail}", err=True)
    raise typer.Exit(code=2)


def describe_result(r: dict[str, Any]) -> str:
    """One batch's detection result for people: threshold, dates, rate ratio, and for a
    flagged batch its iceberg and 30-day failure probabilities (dates, never indexes)."""
    mark = "FLAGGED" if r["flagged"] else "       "
    rr, ci = r["rate_ratio"], r["rate_ratio_ci"]

    def num(x: float | None) -> str:
        return "inf" if x is None else f"{x:.1f}"

    line = (
        f"  {mark} {r['batch_key']:<12} threshold {r['threshold_c']} C  "
        f"failures {r['direction']} {r['failures_below']} / other {r['failures_above']}  "
        f"rate ratio {num(rr)} [{num(ci[0])}, {num(ci[1])}]  q {r['q_value']:.3g}  "
        f"failed {100 * (r['failed_fraction'] or 0):.2f} %"
    )
    if r.get("evidence_first_held_on") or r.get("alarm_on"):
        line += (
            f"\n          evidence rules first held on {r.get('evidence_first_held_on') or '-'}; "
            f"alarm on {r.get('alarm_on') or '-'}"
        )
    ice = r.get("iceberg")
    if ice:
        line += (
            f"\n          iceberg: {ice['units_not_failed']} units not failed yet at "
            f"{ice['sites']} sites of {ice['partners']} partners; "
            f"{ice['units_beyond_threshold_now']} at sites already beyond the threshold"
        )
    model = (r.get("rates") or {}).get("model") or {}
    wanted = (-20.0, -10.0, 0.0, 10.0) if r["direction"] == "below" else (20.0, 30.0, 40.0)
    points = [p for p in model.get("curve", []) if p["temperature_c"] in wanted]
    if r["flagged"] and points:
        line += f"\n          {model['days']}-day failure probability: " + ", ".join(
            f"{100 * (p['probability'] or 0):.2g} % at {p['temperature_c']:g} C "
            f"(others {100 * (p['others_probability'] or 0):.2g} %)"
            for p in points
        )
    return line


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


def describe_ledger(ledger: LedgerOut) -> str:
    """The ledger as a few lines for people (the CLI and ``make demo`` print it)."""
    u = ledger.units
    lines = [
        f"recall {ledger.campaign_id} ledger ({ledger.status}): {u.total} units, "
        f"{100 * u.completion_rate:.0f} % complete ({u.fixed} fixed, {u.waived} waived)",
        "  " + ", ".join(f"{state} {getattr(u, state)}" for state in UNIT_STATES),
        f"  scheduled but not told: {ledger.visits_scheduled_not_told} visits "
        f"({ledger.units_scheduled_not_told} units); revisits pending: "
        f"{ledger.revisits_pending}; decisions pending: {ledger.decisions_pending}",
        f"  partners: {len(ledger.partners)}; not notified within 24 h: "
        f"{len(ledger.not_notified_within_24h)}; at risk: {len(ledger.promise_at_risk)}; "
        f"to follow up: {len(ledger.follow_up)}",
    ]
    return "\n".join(lines)
