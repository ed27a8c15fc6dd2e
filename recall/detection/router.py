"""HTTP routes of detection: start runs (executed by the worker), read them, act on signals.
Support leads only."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from core.deps import get_session, require_roles
from core.errors import NotFound
from core.inputs import IdPath
from core.security import Principal
from recall.detection import repository
from recall.detection import service as detection
from recall.detection.schemas import (
    DetectionRunIn,
    DetectionRunOut,
    SignalDetailOut,
    SignalOut,
    SignalStatusIn,
)
from recall.models import DetectionRun

router = APIRouter(prefix="/api/v1", tags=["detection"])
lead = require_roles("support_lead")
GEOJSON = "application/geo+json"


def _run_out(run: DetectionRun, results: list[dict[str, Any]] | None = None) -> DetectionRunOut:
    out = DetectionRunOut.model_validate(run, from_attributes=True)
    out.results = results
    return out


@router.post("/detection/runs", response_model=DetectionRunOut, status_code=202)
def start_run(
    body: DetectionRunIn,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> DetectionRunOut:
    """Queue a detection run; the worker executes it (poll GET /detection/runs/{id})."""
    run = detection.create_run(
        session,
        actor=principal.actor,
        as_of=body.as_of,
        variable=body.variable,
        direction=body.direction,
        window_start=body.since,
        max_station_km=body.max_station_km,
        evidence={name: getattr(body, name) for name in detection.EVIDENCE_RULES},
    )
    return _run_out(run)


@router.get("/detection/runs", response_model=list[DetectionRunOut])
def list_runs(
    limit: int = Query(50, ge=1, le=500),
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> list[DetectionRunOut]:
    return [_run_out(r) for r in repository.list_runs(session, limit=limit)]


@router.get("/detection/runs/{run_id}", response_model=DetectionRunOut)
def get_run(
    run_id: IdPath,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> DetectionRunOut:
    run = repository.get_run(session, run_id)
    if run is None:
        raise NotFound(f"no detection run {run_id}")
    return _run_out(run, repository.run_results(session, run_id))


@router.get("/signals", response_model=list[SignalOut])
def list_signals(
    status: Literal["new", "acknowledged", "dismissed", "recall_declared"] | None = Query(None),
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> list[SignalOut]:
    return detection.list_signals(session, status=status)


@router.get("/signals/{signal_id}", response_model=SignalDetailOut)
def get_signal(
    signal_id: IdPath,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> SignalDetailOut:
    """The signal with its evidence: rates per temperature bin (batch vs the other batches),
    the rate model with its 30-day failure probabilities, the sequential test day by day
    with its critical value and alarm date, and the iceberg."""
    return detection.get_signal(session, signal_id=signal_id)


@router.get(
    "/signals/{signal_id}/sites",
    responses={200: {"content": {GEOJSON: {}}, "description": "a GeoJSON FeatureCollection"}},
)
def get_signal_sites(
    signal_id: IdPath,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> JSONResponse:
    """The batch's sites as GeoJSON points: partner, units of the batch, failed units."""
    return JSONResponse(detection.signal_sites(session, signal_id=signal_id), media_type=GEOJSON)


@router.post("/signals/{signal_id}/status", response_model=SignalOut)
def change_signal_status(
    signal_id: IdPath,
    body: SignalStatusIn,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> SignalOut:
    detection.change_signal_status(
        session, signal_id=signal_id, status=body.status, actor=principal.actor, reason=body.reason
    )
    return detection.get_signal(session, signal_id=signal_id)
