"""Queries of detection: runs, results and signals as the API reads them, whether a batch
is already under an active recall, and the iceberg of a flagged batch (spatial SQL). The
exposure aggregation, the heavy part, has its own module (``exposure.py``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import exists, or_, select, text
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from devices.models import Batch, Unit
from recall.detection.exposure import VARIABLES
from recall.models import Campaign, CampaignUnit, DetectionResult, DetectionRun, Signal


def list_runs(session: Session, *, limit: int) -> list[DetectionRun]:
    """The newest runs first."""
    return list(session.scalars(select(DetectionRun).order_by(DetectionRun.id.desc()).limit(limit)))


def get_run(session: Session, run_id: int) -> DetectionRun | None:
    return session.get(DetectionRun, run_id)


def under_active_recall(session: Session, batch_id: int) -> bool:
    """True when an active campaign answers a signal of this batch or holds its units."""
    answers_signal = Campaign.signal_id.in_(select(Signal.id).where(Signal.batch_id == batch_id))
    holds_units = exists(
        select(CampaignUnit.id)
        .join(Unit, Unit.id == CampaignUnit.unit_id)
        .where(CampaignUnit.campaign_id == Campaign.id, Unit.batch_id == batch_id)
    )
    stmt = select(Campaign.id).where(Campaign.status == "active", or_(answers_signal, holds_units))
    return session.scalar(stmt.limit(1)) is not None


def iceberg(
    session: Session,
    *,
    batch_key: str,
    threshold_c: float | None,
    variable: str,
    direction: str,
    as_of: date,
    max_station_km: float = 50.0,
) -> dict[str, Any]:
    """The units of a batch that have not failed yet, where they are, and how many sit at
    sites whose latest observation (up to ``as_of``) is already beyond the threshold."""
    if variable not in VARIABLES:
        raise InvalidInput(f"unknown variable {variable!r}")
    beyond = "<" if direction == "below" else ">="
    # A failure counts as known when it occurred by the as-of day in the site's local time,
    # as in the exposure aggregation; the weather is looked up once per site, not per unit.
    row = session.execute(
        text(
            f"""
            WITH not_failed AS (
                SELECT u.id, u.site_id, s.partner_id
                FROM unit u JOIN batch b ON b.id = u.batch_id JOIN site s ON s.id = u.site_id
                WHERE b.batch_key = :batch_key
                  AND (u.installed_on IS NULL OR u.installed_on <= :as_of)
                  AND NOT EXISTS (
                      SELECT 1 FROM failure_report f WHERE f.unit_id = u.id
                      AND f.occurred_at < CAST(:as_of AS date) + 2
                      AND (f.occurred_at AT TIME ZONE s.timezone)::date <= :as_of)
            ), latest AS (
                SELECT s.id AS site_id, (
                    SELECT o.{variable} FROM weather_observation o
                    WHERE o.station_id = st.id AND o.day <= :as_of
                      AND o.{variable} IS NOT NULL
                    ORDER BY o.day DESC LIMIT 1) AS value
                FROM site s
                LEFT JOIN LATERAL (
                    SELECT w.id FROM weather_station w
                    WHERE ST_DWithin(w.location, s.location, :max_m)
                    ORDER BY w.location <-> s.location LIMIT 1
                ) st ON true
                WHERE s.id IN (SELECT site_id FROM not_failed)
            )
            SELECT count(*), count(DISTINCT n.site_id), count(DISTINCT n.partner_id),
                   count(*) FILTER (WHERE l.value {beyond} :threshold)
            FROM not_failed n JOIN latest l ON l.site_id = n.site_id
            """
        ),
        {
            "batch_key": batch_key,
            "as_of": as_of,
            "max_m": max_station_km * 1000.0,
            "threshold": threshold_c,
        },
    ).one()
    units, sites, partners, beyond_now = row
    return {
        "units_not_failed": int(units),
        "sites": int(sites),
        "partners": int(partners),
        "units_beyond_threshold_now": int(beyond_now) if threshold_c is not None else None,
    }


def list_signals(
    session: Session, *, status: str | None = None, signal_id: int | None = None
) -> list[tuple[Signal, str, dict[str, Any]]]:
    """Signals with their batch key and latest result, oldest first."""
    stmt = (
        select(Signal, Batch.batch_key, DetectionResult.result)
        .join(Batch, Batch.id == Signal.batch_id)
        .join(DetectionResult, DetectionResult.id == Signal.latest_result_id)
        .order_by(Signal.id)
    )
    if status is not None:
        stmt = stmt.where(Signal.status == status)
    if signal_id is not None:
        stmt = stmt.where(Signal.id == signal_id)
    return [(s, k, r) for s, k, r in session.execute(stmt).all()]


def signal_with_run(
    session: Session, signal_id: int
) -> tuple[Signal, str, dict[str, Any], DetectionRun] | None:
    """A signal, its batch key, its latest result and the run that produced that result."""
    row = session.execute(
        select(Signal, Batch.batch_key, DetectionResult.result, DetectionRun)
        .join(Batch, Batch.id == Signal.batch_id)
        .join(DetectionResult, DetectionResult.id == Signal.latest_result_id)
        .join(DetectionRun, DetectionRun.id == DetectionResult.run_id)
        .where(Signal.id == signal_id)
    ).one_or_none()
    return None if row is None else (row[0], row[1], row[2], row[3])


def batch_sites(session: Session, *, batch_id: int, as_of: date) -> list[dict[str, Any]]:
    """The sites holding units of a batch (installed by ``as_of``), with their partner, the
    batch's units there and how many of them had failed by ``as_of`` (local date)."""
    rows = session.execute(
        text(
            """
            SELECT s.site_key, s.name, s.lat, s.lon, p.partner_key, p.name AS partner_name,
                   count(*) AS units,
                   count(*) FILTER (WHERE EXISTS (
                       SELECT 1 FROM failure_report f WHERE f.unit_id = u.id
                       AND f.occurred_at < CAST(:as_of AS date) + 2
                       AND (f.occurred_at AT TIME ZONE s.timezone)::date <= :as_of
                   )) AS failed_units
            FROM unit u
            JOIN site s ON s.id = u.site_id
            JOIN partner p ON p.id = s.partner_id
            WHERE u.batch_id = :batch_id
              AND (u.installed_on IS NULL OR u.installed_on <= :as_of)
            GROUP BY s.id, p.id
            ORDER BY s.site_key
            """
        ),
        {"batch_id": batch_id, "as_of": as_of},
    )
    return [dict(r._mapping) for r in rows]


def run_results(session: Session, run_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(DetectionResult.result)
        .where(DetectionResult.run_id == run_id)
        .order_by(DetectionResult.flagged.desc(), DetectionResult.id)
    ).all()
    return list(rows)
