"""The main job, end to end, on the demo scenario: what ``make demo`` runs.

Each step owns its transaction, so a step that fails leaves the earlier ones in place and
re-running the demo is safe (imports are idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import select

from api.keys import create_key
from core.db import transaction
from devices.demo import DemoSpec, DemoSummary, generate
from devices.importer import ImportResult, import_directory
from devices.models import Partner, Technician


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


def run_demo(directory: Path, *, seed: int, spec: DemoSpec | None = None) -> DemoReport:
    """Generate, import, and create one key per role; returns what to show the user."""
    spec = spec or DemoSpec(seed=seed)
    summary = generate(directory, spec)
    with transaction() as session:
        imports = import_directory(session, directory, actor="demo")
    report = DemoReport(summary=summary, imports=imports)
    detect_step(report, as_of=spec.season_end)
    with transaction() as session:
        partner_key = session.scalar(select(Partner.partner_key).order_by(Partner.partner_key))
        technician_key = session.scalar(
            select(Technician.technician_key).order_by(Technician.technician_key)
        )
        assert partner_key and technician_key, "the demo scenario has partners and technicians"
        report.partner_key, report.technician_key = partner_key, technician_key
        report.keys = {
            "support_lead": create_key(session, role="support_lead", label="demo"),
            "partner": create_key(session, role="partner", partner_key=partner_key, label="demo"),
            "technician": create_key(
                session, role="technician", technician_key=technician_key, label="demo"
            ),
        }
    return report


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
        f"  support lead key:    {report.keys['support_lead']}",
        f"  partner key ({report.partner_key}): {report.keys['partner']}",
        f"  technician key ({report.technician_key}): {report.keys['technician']}",
        "",
        "  try:",
        f"    curl -H 'X-API-Key: {report.keys['partner']}' {base_url}/api/v1/sites",
        f"    curl -H 'X-API-Key: {report.keys['support_lead']}' {base_url}/api/v1/batches",
    ]
    return "\n".join(lines)
