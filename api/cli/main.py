"""The ``fieldrecall`` command line. Each command owns its transaction."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from contextlib import ExitStack, suppress
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
import uvicorn

from api.app import create_app
from api.cli.plan import plan_app
from api.cli.recall import recall_app
from api.demo.mail import mail_sink
from api.demo.run import describe, run_demo
from api.demo.scenario import DemoSpec, generate
from api.demo.services import demo_services
from api.keys import create_key, list_keys, revoke_key
from api.output import describe_result, fail
from api.worker import WorkerGaveUp, run_worker
from core.db import transaction, upgrade
from core.errors import AppError
from core.settings import get_settings
from devices.importer import import_csv, import_directory
from recall.campaigns.reports import follow_up_reports
from recall.detection.repository import run_results
from recall.detection.service import create_run, execute_run

app = typer.Typer(help="fieldrecall: field-service and hardware recall coordinator.")
db_app = typer.Typer(help="Database commands.")
keys_app = typer.Typer(help="API keys.")
demo_app = typer.Typer(help="The demo scenario.")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(demo_app, name="demo")
app.add_typer(recall_app, name="recall")
app.add_typer(plan_app, name="plan")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations (PostGIS extension included) to the database in DATABASE_URL."""

    upgrade(get_settings().database_url)
    typer.echo("database is at the latest migration")


@app.command("import")
def import_file(
    kind: str = typer.Argument(..., help="partners, sites, batches, units, failures, ..."),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
) -> None:
    """Import one CSV file; a file with any bad row imports nothing (exit code 2)."""

    try:
        with transaction() as session, file.open("rb") as stream:
            result = import_csv(session, kind, stream, filename=str(file))
            if kind == "failures":
                follow_up_reports(session, None, actor="cli", from_partner=False)
    except AppError as exc:
        fail(exc)
    typer.echo(json.dumps(result.as_dict()))


@keys_app.command("create")
def keys_create(
    role: str = typer.Option(..., help="support_lead, technician or partner"),
    partner: str | None = typer.Option(None, help="partner_key, for a partner key"),
    technician: str | None = typer.Option(None, help="technician_key, for a technician key"),
    label: str | None = typer.Option(None, help="a note on who holds the key"),
) -> None:
    """Create an API key and print it (this is the only time it is shown)."""

    try:
        with transaction() as session:
            plain = create_key(
                session, role=role, partner_key=partner, technician_key=technician, label=label
            )
    except AppError as exc:
        fail(exc)
    typer.echo(plain)


@keys_app.command("list")
def keys_list(
    include_revoked: bool = typer.Option(False, "--all", help="revoked keys too"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List API keys: id, first characters, role, whom it is bound to, label, dates."""
    with transaction() as session:
        keys = list_keys(session, include_revoked=include_revoked)
    if as_json:
        typer.echo(json.dumps([asdict(k) for k in keys], default=str, indent=2))
        return
    for k in keys:
        revoked = f"  revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else ""
        typer.echo(
            f"{k.id:>5}  {k.prefix}...  {k.role:<12}  {k.bound_to or '-':<20}  "
            f"{k.label or '-':<20}  created {k.created_at:%Y-%m-%d %H:%M}{revoked}"
        )


@keys_app.command("revoke")
def keys_revoke(
    which: str = typer.Argument(..., help="the key's id, or its first characters"),
) -> None:
    """Revoke one API key at once (requests with it answer 401 from now on)."""
    try:
        with transaction() as session:
            key = revoke_key(session, which)
    except AppError as exc:
        fail(exc)
    typer.echo(f"revoked key {key.id} ({key.prefix}..., {key.role} {key.bound_to or ''})".rstrip())


@demo_app.command("generate")
def demo_generate(
    directory: Path = typer.Argument(..., file_okay=False),
    seed: int = typer.Option(7, help="the same seed writes the same files"),
) -> None:
    """Write the synthetic demo fleet as CSV files (and scenario.json, the ground truth)."""

    summary = generate(directory, DemoSpec(seed=seed))
    typer.echo(json.dumps({"directory": str(directory), "rows": summary.row_counts}))


@demo_app.command("load")
def demo_load(directory: Path = typer.Argument(..., exists=True, file_okay=False)) -> None:
    """Import every CSV of a directory in reference order, all or nothing."""

    try:
        with transaction() as session:
            results = import_directory(session, directory)
            follow_up_reports(session, None, actor="cli", from_partner=False)
    except AppError as exc:
        fail(exc)
    for result in results:
        typer.echo(json.dumps(result.as_dict()))


@demo_app.command("run")
def demo_run(
    directory: Path = typer.Option(Path("var/demo"), "--dir", file_okay=False),
    seed: int = typer.Option(7),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    smtp_port: int = typer.Option(2525, help="the local mail sink's port (127.0.0.1)"),
    serve_app: bool = typer.Option(
        True,
        "--serve/--no-serve",
        help="serve the app afterwards, with a worker and a local mail sink beside it",
    ),
) -> None:
    """Migrate, generate and import the demo, run the main job, print URLs and keys, serve.

    Served, a worker and a mail sink start first: notices are delivered while the job
    runs, to files under DIR/mail; the worker logs to DIR/worker.log. Ctrl-C stops all."""

    settings = get_settings()
    upgrade(settings.database_url)
    with ExitStack() as stack:
        if serve_app:
            services = stack.enter_context(
                demo_services(directory, database_url=settings.database_url, smtp_port=smtp_port)
            )
        try:
            report = run_demo(directory, seed=seed)
        except AppError as exc:
            fail(exc)
        typer.echo(describe(report, f"http://{host}:{port}"))
        if serve_app:
            typer.echo(
                f"  worker:              pid {services.worker_pid}, log {services.worker_log}\n"
                f"  mail sink:           pid {services.sink_pid}, 127.0.0.1:{services.smtp_port}; "
                f"every notice is a file in {services.mail_dir} "
                f"(list: {services.mail_dir / 'index.log'})"
            )
            # uvicorn re-raises the signal that stopped it once it is done: as an exception
            # here, so that the worker and the sink stop too (the default action of SIGTERM
            # would end this process alone and leave them running).
            signal.signal(signal.SIGTERM, _exit_on_signal)
            serve(host=host, port=port, workers=1)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@app.command("mail-sink")
def mail_sink_cmd(
    directory: Path = typer.Option(Path("var/mail"), "--dir", file_okay=False),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(2525),
) -> None:
    """A local SMTP server that keeps every message as a file in DIR (a demo's mail)."""

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with mail_sink(directory, host=host, port=port):
        typer.echo(f"mail sink on {host}:{port}, writing to {directory}")
        sys.stdout.flush()
        with suppress(KeyboardInterrupt):
            stop.wait()


@app.command("detect")
def detect_cmd(
    as_of: datetime | None = typer.Option(
        None,
        "--as-of",
        formats=["%Y-%m-%d"],
        help="use only what was known that day (default: today)",
    ),
    variable: str = typer.Option("temp_min_c", help="temp_min_c (cold) or temp_max_c (heat)"),
    direction: str | None = typer.Option(None, help="below or above (default from variable)"),
    since: datetime | None = typer.Option(None, formats=["%Y-%m-%d"], help="window start"),
    max_station_km: float | None = typer.Option(
        None, help="nearest weather station limit (default: the setting, 50 km)"
    ),
    min_failures: int | None = typer.Option(None, help="evidence: failures beyond (default 3)"),
    min_sites: int | None = typer.Option(None, help="evidence: distinct sites beyond (default 2)"),
    min_rr_lower: float | None = typer.Option(
        None, help="evidence: lower confidence bound of the rate ratio above this (default 1.5)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print every batch with a failure as JSON"),
) -> None:
    """Run detection now (inline) and store the run, its results and signals."""

    try:
        with transaction() as session:
            run = create_run(
                session,
                actor="cli",
                as_of=as_of.date() if as_of else None,
                variable=variable,
                direction=direction,  # type: ignore[arg-type]
                window_start=since.date() if since else None,
                max_station_km=max_station_km,
                evidence={
                    "min_failures_beyond": min_failures,
                    "min_sites_beyond": min_sites,
                    "min_rate_ratio_lower": min_rr_lower,
                },
                enqueue=False,
            )
            execute_run(session, run.id, actor="cli")
            results = run_results(session, run.id)
            summary = dict(run.summary or {})
    except AppError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(results, indent=2))
    else:
        typer.echo(
            f"detection run {run.id}: as of {run.as_of}, {run.variable} {run.direction}, "
            f"window from {run.window_start}; {summary.get('batches_tested')} batches with "
            f"failures, flagged: {', '.join(summary.get('flagged', [])) or 'none'}"
        )
        for r in results:
            typer.echo(describe_result(r))
    # What could not be used goes to stderr, so that --json output stays one JSON list.
    _note_sites(
        summary.get("sites_without_station"),
        f"have no weather station within {run.parameters['max_station_km']:g} km",
    )
    _note_sites(
        summary.get("sites_without_weather"),
        f"have a station without {run.variable} observations in the window",
    )
    if summary.get("failures_without_weather"):
        typer.echo(
            f"note: {summary['failures_without_weather']} failures fell on days without a "
            "weather observation at their station and were left out",
            err=True,
        )


def _note_sites(sites: list[dict[str, Any]] | None, why: str) -> None:
    if not sites:
        return
    keys = ", ".join(m["site_key"] for m in sites[:10])
    more = f" and {len(sites) - 10} more" if len(sites) > 10 else ""
    units = sum(m["units"] for m in sites)
    typer.echo(f"note: {len(sites)} sites {why} ({units} units left out): {keys}{more}", err=True)


@app.command("worker")
def worker(
    once: bool = typer.Option(False, help="process the queued jobs, then exit"),
) -> None:
    """Run a Procrastinate worker for the background jobs (detection runs, plans, notices).
    Exits with code 1 when the database stays away longer than the reconnect window."""
    # A worker is a service: say what it does (each job, each delivery) on stderr.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        run_worker(get_settings().database_url, once=once)
    except WorkerGaveUp as exc:
        typer.echo(f"worker: {exc}", err=True)
        raise typer.Exit(1) from exc


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(
        1, min=1, max=64, help="server processes (production: about one per core)"
    ),
) -> None:
    """Serve the API (OpenAPI docs at /docs)."""

    if workers == 1:
        uvicorn.run(create_app(), host=host, port=port)
    else:
        # Each process builds its own app (and its own database pool).
        uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers)


def main() -> None:  # pragma: no cover - console entry point
    app(sys.argv[1:])
