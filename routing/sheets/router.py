"""The technician's API: its routes in published plans, and the workflow at a stop (start
it, record an outcome per unit, finish it), by stop id or by visit id. Each call is safe
to repeat. A technician reaches only its own routes, stops and visits (another's answer
404); a support lead reaches all; a partner key gets 403.

The routes by visit (``/visits/{visit_id}/...``) survive a re-plan (a stop id is one plan
version's), take an ``Idempotency-Key`` and the day the work was done, and keep a
technician's conflicts for the support lead (routing/sheets/visits.py): the field app's
queue uses the same workflow behind the technician's secret link. The sheets themselves,
in every format, are served with the technician's pages (``api/pages/technician``)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from core.deps import get_session, require_roles
from core.idempotency import idempotency_key_header
from core.inputs import IdPath
from core.security import Principal
from routing.sheets import service
from routing.sheets.schemas import (
    OutcomeIn,
    RouteRef,
    StopOut,
    VisitOutcomeIn,
    WorkIn,
)
from routing.sheets.service import StopState, published_routes
from routing.sheets.visits import FieldAction, act_once

router = APIRouter(prefix="/api/v1", tags=["technician workflow"])
staff = require_roles("technician", "support_lead")


def _out(state: StopState) -> StopOut:
    return StopOut.model_validate(state, from_attributes=True)


@router.get("/technicians/me/routes", response_model=list[RouteRef], tags=["route sheets"])
def my_routes(
    day: date | None = Query(None),
    principal: Principal = Depends(require_roles("technician")),
    session: Session = Depends(get_session),
) -> list[RouteRef]:
    """The caller's routes in published plans, by day."""
    assert principal.technician_id is not None
    return [
        RouteRef(route_id=rid, day=d)
        for rid, d in published_routes(session, technician_id=principal.technician_id, day=day)
    ]


@router.post("/stops/{stop_id}/start", response_model=StopOut)
def start_stop(
    stop_id: IdPath,
    principal: Principal = Depends(staff),
    session: Session = Depends(get_session),
) -> StopOut:
    """On site: the stop starts and its units go in progress."""
    return _out(
        service.start_stop(
            session, stop_id=stop_id, technician_id=principal.technician_id, actor=principal.actor
        )
    )


@router.post("/stops/{stop_id}/units/{serial}/outcome", response_model=StopOut)
def record_outcome(
    stop_id: IdPath,
    serial: str,
    body: OutcomeIn,
    principal: Principal = Depends(staff),
    session: Session = Depends(get_session),
) -> StopOut:
    """fixed, unable_to_access, refused or not_found, with a note; the same outcome twice
    changes nothing, a different one after a final state is a 409."""
    return _out(
        service.record_outcome(
            session,
            stop_id=stop_id,
            serial=serial,
            outcome=body.outcome,
            note=body.note,
            technician_id=principal.technician_id,
            actor=principal.actor,
        )
    )


@router.post("/stops/{stop_id}/finish", response_model=StopOut)
def finish_stop(
    stop_id: IdPath,
    principal: Principal = Depends(staff),
    session: Session = Depends(get_session),
) -> StopOut:
    """Every unit has an outcome: the visit is done and the partner is told."""
    return _out(
        service.finish_stop(
            session, stop_id=stop_id, technician_id=principal.technician_id, actor=principal.actor
        )
    )


def _visit_action(
    session: Session, principal: Principal, action: FieldAction, key: str | None
) -> JSONResponse:
    status, body = act_once(
        session,
        action=action,
        technician_id=principal.technician_id,
        actor=principal.actor,
        key=key,
    )
    return JSONResponse(body, status_code=status)


@router.post("/visits/{visit_id}/start")
def start_visit(
    visit_id: IdPath,
    body: WorkIn | None = None,
    key: str | None = Depends(idempotency_key_header),
    principal: Principal = Depends(staff),
    session: Session = Depends(get_session),
) -> JSONResponse:
    """On site at a visit of one's routes: the stop starts. 409 (kept for the lead when a
    technician meets it) when the visit moved off the caller's route or its day has not
    come."""
    return _visit_action(session, principal, (body or WorkIn()).action("start", visit_id), key)


@router.post("/visits/{visit_id}/units/{serial}/outcome")
def visit_outcome(
    visit_id: IdPath,
    serial: str,
    body: VisitOutcomeIn,
    key: str | None = Depends(idempotency_key_header),
    principal: Principal = Depends(staff),
    session: Session = Depends(get_session),
) -> JSONResponse:
    """One unit's outcome at a visit; the same again is a no-op, a different one after an
    outcome a 409 saying what is recorded."""
    return _visit_action(session, principal, body.outcome_for(visit_id, serial), key)


@router.post("/visits/{visit_id}/finish")
def finish_visit(
    visit_id: IdPath,
    body: WorkIn | None = None,
    key: str | None = Depends(idempotency_key_header),
    principal: Principal = Depends(staff),
    session: Session = Depends(get_session),
) -> JSONResponse:
    """Every unit has an outcome: the visit is done and the partner is told."""
    return _visit_action(session, principal, (body or WorkIn()).action("finish", visit_id), key)
