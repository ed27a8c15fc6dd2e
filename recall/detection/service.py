"""Detection use cases: start and execute runs, keep signals, size the iceberg.

A run aggregates exposure in PostGIS (``exposure.py``), applies the pure statistics
(``statistics.py``), and stores one result per batch with a failure. A flagged batch
raises a signal, or refreshes its open one; a batch already under an active recall campaign
raises none (the recall is the answer; its result still says flagged).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound
from core.events import check_transition, record_event
from core.jobs import defer_job
from core.settings import get_settings
from devices.models import Batch
from recall.detection import repository
from recall.detection.config import DetectionConfig
from recall.detection.exposure import load_exposure
from recall.detection.schemas import SequentialOut, SignalDetailOut, SignalOut
from recall.detection.statistics import detect
from recall.models import DetectionResult, DetectionRun, Signal

# The worker task that executes a queued run (registered by recall.tasks).
DETECTION_TASK = "recall.run_detection"
DEFAULT_DIRECTION = {"temp_min_c": "below", "temp_max_c": "above"}
# Allowed signal transitions (checked by core.events.check_transition); anything else,
# a repeat of the current status included, is a 409.
SIGNAL_TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"acknowledged", "dismissed", "recall_declared"}),
    "acknowledged": frozenset({"dismissed", "recall_declared"}),
    "dismissed": frozenset({"new"}),
    "recall_declared": frozenset(),
}
# The evidence rules a run may override (issue 3: "all configurable"); stored on the run so
# that its results can be re-read with the rules they were decided by.
EVIDENCE_RULES = ("min_failures_beyond", "min_sites_beyond", "min_rate_ratio_lower")


def _evidence_overrides(rules: dict[str, float | None] | None) -> dict[str, float]:
    """Validate evidence-rule overrides; unknown names and impossible values are a 422."""
    given = {k: v for k, v in (rules or {}).items() if v is not None}
    unknown = sorted(set(given) - set(EVIDENCE_RULES))
    if unknown:
        raise InvalidInput(
            f"unknown evidence rule(s) {', '.join(unknown)}; known: {', '.join(EVIDENCE_RULES)}"
        )
    for name in ("min_failures_beyond", "min_sites_beyond"):
        if name in given and (given[name] < 1 or given[name] != int(given[name])):
            raise InvalidInput(f"{name} must be a whole number of at least 1, not {given[name]}")
    if "min_rate_ratio_lower" in given and not given["min_rate_ratio_lower"] >= 0:
        raise InvalidInput("min_rate_ratio_lower must be at least 0")
    return {k: (int(v) if k != "min_rate_ratio_lower" else float(v)) for k, v in given.items()}


def run_config(run: DetectionRun) -> DetectionConfig:
    """The statistics configuration of a run: defaults plus the run's evidence overrides."""
    overrides = {k: run.parameters[k] for k in EVIDENCE_RULES if k in run.parameters}
    return DetectionConfig(
        variable=run.variable,
        direction=run.direction,  # type: ignore[arg-type]
        **overrides,
    )


def create_run(
    session: Session,
    *,
    actor: str,
    as_of: date | None = None,
    variable: str = "temp_min_c",
    direction: Literal["below", "above"] | None = None,
    window_start: date | None = None,
    max_station_km: float | None = None,
    evidence: dict[str, float | None] | None = None,
    enqueue: bool = True,
) -> DetectionRun:
    """Record a queued run; with ``enqueue`` its job is deferred in the same transaction.

    ``max_station_km`` defaults to the ``station_max_distance_km`` setting (50 km);
    ``evidence`` overrides the evidence rules of ``EVIDENCE_RULES`` for this run."""
    if variable not in DEFAULT_DIRECTION:
        raise InvalidInput(f"variable must be temp_min_c or temp_max_c, not {variable!r}")
    direction = direction or DEFAULT_DIRECTION[variable]  # type: ignore[assignment]
    if direction not in ("below", "above"):
        raise InvalidInput(f"direction must be 'below' or 'above', not {direction!r}")
    as_of = as_of or datetime.now(UTC).date()
    if window_start and window_start > as_of:
        raise InvalidInput(f"the window start {window_start} is after the as-of date {as_of}")
    if max_station_km is None:
        max_station_km = get_settings().station_max_distance_km
    if not max_station_km > 0:
        raise InvalidInput(f"the station distance limit must be positive, not {max_station_km}")
    run = DetectionRun(
        status="queued",
        as_of=as_of,
        window_start=window_start,
        variable=variable,
        direction=direction,
        parameters={"max_station_km": max_station_km, **_evidence_overrides(evidence)},
        created_by=actor,
    )
    session.add(run)
    session.flush()
    record_event(
        session,
        actor=actor,
        entity="detection_run",
        entity_key=str(run.id),
        action="queued",
        to_state="queued",
        data={"as_of": as_of.isoformat(), "variable": variable, "direction": direction},
    )
    if enqueue:
        defer_job(session, DETECTION_TASK, {"run_id": run.id}, lock=f"detection-run-{run.id}")
    return run


def execute_run(session: Session, run_id: int, *, actor: str = "worker") -> DetectionRun:
    """Aggregate, test and store a queued run (what the worker's job does)."""
    run = session.get(DetectionRun, run_id, with_for_update=True)
    if run is None:
        raise NotFound(f"no detection run {run_id}")
    if run.status == "done":
        return run  # a job delivered twice does its work once
    run.status, run.started_at = "running", datetime.now(UTC)
    max_station_km = float(run.parameters["max_station_km"])
    exposure = load_exposure(
        session,
        as_of=run.as_of,
        variable=run.variable,
        direction=run.direction,  # type: ignore[arg-type]
        window_start=run.window_start,
        max_station_km=max_station_km,
    )
    config = run_config(run)
    started = time.perf_counter()
    results = detect(exposure.inputs, config)
    stats_seconds = time.perf_counter() - started
    batch_ids = dict(session.execute(select(Batch.batch_key, Batch.id)).all())
    flagged, under_recall = [], []
    for result in results:
        body = result.to_json()
        if result.flagged:
            body["iceberg"] = repository.iceberg(
                session,
                batch_key=result.batch_key,
                threshold_c=result.threshold_c,
                variable=run.variable,
                direction=run.direction,
                as_of=run.as_of,
                max_station_km=max_station_km,
            )
            flagged.append(result.batch_key)
        row = DetectionResult(
            run_id=run.id,
            batch_id=batch_ids[result.batch_key],
            flagged=result.flagged,
            threshold_c=result.threshold_c,
            result=body,
        )
        session.add(row)
        session.flush()
        if result.flagged:
            if repository.under_active_recall(session, row.batch_id):
                under_recall.append(result.batch_key)
            else:
                _raise_signal(session, run, row, actor=actor)
    run.window_start = exposure.window_start
    run.status, run.finished_at = "done", datetime.now(UTC)
    run.summary = {
        "batches_tested": len(results),
        "flagged": flagged,
        "flagged_under_active_recall": under_recall,
        "sites_without_station": [asdict(s) for s in exposure.sites_without_station],
        "sites_without_weather": [asdict(s) for s in exposure.sites_without_weather],
        "failures_without_weather": exposure.failures_without_weather,
        "sql_seconds": round(exposure.sql_seconds, 3),
        "stats_seconds": round(stats_seconds, 3),
        "sql_timings": {k: round(v, 3) for k, v in exposure.timings.items()},
    }
    record_event(
        session,
        actor=actor,
        entity="detection_run",
        entity_key=str(run.id),
        action="finished",
        from_state="running",
        to_state="done",
        data={"flagged": flagged},
    )
    session.flush()
    return run


def mark_failed(session: Session, run_id: int, error: str) -> None:
    run = session.get(DetectionRun, run_id)
    if run is not None and run.status != "done":
        run.status, run.error, run.finished_at = "failed", error[:2000], datetime.now(UTC)
        record_event(
            session,
            actor="worker",
            entity="detection_run",
            entity_key=str(run_id),
            action="failed",
            to_state="failed",
            reason=error[:2000],
        )


def _raise_signal(session: Session, run: DetectionRun, row: DetectionResult, *, actor: str) -> None:
    open_signal = session.scalar(
        select(Signal).where(
            Signal.batch_id == row.batch_id,
            Signal.variable == run.variable,
            Signal.direction == run.direction,
            Signal.status.in_(("new", "acknowledged")),
        )
    )
    if open_signal is not None:
        open_signal.latest_result_id = row.id
        return
    signal = Signal(
        batch_id=row.batch_id,
        variable=run.variable,
        direction=run.direction,
        status="new",
        first_run_id=run.id,
        latest_result_id=row.id,
        status_changed_by=actor,
    )
    session.add(signal)
    session.flush()
    record_event(
        session,
        actor=actor,
        entity="signal",
        entity_key=str(signal.id),
        action="raised",
        to_state="new",
        data={"batch_key": row.result["batch_key"], "run_id": run.id},
    )


def change_signal_status(
    session: Session, *, signal_id: int, status: str, actor: str, reason: str | None
) -> Signal:
    """Move a signal along its lifecycle; an illegal move is a 409 saying why."""
    signal = session.get(Signal, signal_id, with_for_update=True)
    if signal is None:
        raise NotFound(f"no signal {signal_id}")
    if not check_transition(SIGNAL_TRANSITIONS, f"signal {signal_id}", signal.status, status):
        # Unlike a unit's move, a repeat is not a no-op: a second recall must not answer a
        # signal that an earlier one already declared without anyone noticing.
        raise Conflict(f"signal {signal_id} is already {status}")
    previous = signal.status
    signal.status, signal.status_reason = status, reason
    signal.status_changed_by, signal.status_changed_at = actor, datetime.now(UTC)
    record_event(
        session,
        actor=actor,
        entity="signal",
        entity_key=str(signal_id),
        action="status_changed",
        from_state=previous,
        to_state=status,
        reason=reason,
    )
    session.flush()
    return signal


def signal_out(signal: Signal, batch_key: str, result: dict[str, Any]) -> SignalOut:
    """A signal as the API lists it: its batch, status, threshold and dates."""
    return SignalOut(
        id=signal.id,
        batch_key=batch_key,
        variable=signal.variable,
        direction=signal.direction,
        status=signal.status,
        first_run_id=signal.first_run_id,
        status_changed_at=signal.status_changed_at,
        status_changed_by=signal.status_changed_by,
        status_reason=signal.status_reason,
        threshold_c=result.get("threshold_c"),
        evidence_first_held_on=result.get("evidence_first_held_on"),
        alarm_on=result.get("alarm_on"),
        latest_result=result,
    )


def list_signals(session: Session, *, status: str | None = None) -> list[SignalOut]:
    """Signals, oldest first, optionally with one status."""
    return [signal_out(*row) for row in repository.list_signals(session, status=status)]


def get_signal(session: Session, *, signal_id: int) -> SignalDetailOut:
    """A signal with the evidence behind its latest result: the rates per temperature bin,
    the rate model and its 30-day probabilities, the sequential test day by day, the iceberg.
    A result stored before this evidence existed gives empty lists and nulls."""
    found = repository.signal_with_run(session, signal_id)
    if found is None:
        raise NotFound(f"no signal {signal_id}")
    signal, batch_key, result, run = found
    rates = result.get("rates") or {}
    return SignalDetailOut(
        **signal_out(signal, batch_key, result).model_dump(),
        as_of=run.as_of,
        window_start=run.window_start,
        failures_beyond=result.get("failures_below"),
        failures_other=result.get("failures_above"),
        sites_with_failures_beyond=result.get("sites_with_failures_below"),
        rate_ratio=result.get("rate_ratio"),
        rate_ratio_ci=result.get("rate_ratio_ci"),
        failed_fraction=result.get("failed_fraction"),
        method=rates.get("method"),
        rates=rates.get("bins") or [],
        rate_model=rates.get("model"),
        sequential=_sequential_out(result.get("sequential")),
        iceberg=result.get("iceberg"),
    )


def _sequential_out(seq: dict[str, Any] | None) -> SequentialOut | None:
    """The stored path (a first day and one value a day) as one dated entry per day."""
    if not seq or "critical_value" not in seq:
        return None
    path = seq.get("path") or {}
    first = path.get("first_day")
    days = []
    if first:
        start = date.fromisoformat(first)
        days = [
            {"day": start + timedelta(days=i), "statistic": s, "evidence_met": e, "threshold_c": t}
            for i, (s, e, t) in enumerate(
                zip(path["statistic"], path["evidence_met"], path["threshold_c"], strict=True)
            )
        ]
    return SequentialOut.model_validate({**seq, "days": days})


def signal_sites(session: Session, *, signal_id: int) -> dict[str, Any]:
    """The batch's sites as a GeoJSON FeatureCollection: a Point per site with the partner,
    the batch's units there and how many had failed by the latest run's as-of date."""
    found = repository.signal_with_run(session, signal_id)
    if found is None:
        raise NotFound(f"no signal {signal_id}")
    signal, batch_key, _, run = found
    sites = repository.batch_sites(session, batch_id=signal.batch_id, as_of=run.as_of)
    return {
        "type": "FeatureCollection",
        "batch_key": batch_key,
        "as_of": run.as_of.isoformat(),
        "features": [
            {
                "type": "Feature",
                "id": s["site_key"],
                "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
                "properties": {
                    "site_key": s["site_key"],
                    "name": s["name"],
                    "partner_key": s["partner_key"],
                    "partner_name": s["partner_name"],
                    "units": int(s["units"]),
                    "failed_units": int(s["failed_units"]),
                },
            }
            for s in sites
        ],
    }
