"""The technician's API: its routes in published plans, and the workflow at a stop (start
it, record an outcome per unit, finish it). Each call is safe to repeat. A technician
reaches only its own routes and stops (another's answer 404); a support lead reaches all.
The sheets themselves, in every format, are served with the technician's pages
(``api/pages/technician``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from core.deps import get_session, require_roles
from core.inputs import IdPath, Text
from core.security import Principal
from routing.sheets import service
from routing.sheets.service import StopState, published_routes

router = APIRouter(prefix="/api/v1", tags=["technician workflow"])
staff = require_roles("technician", "support_lead")


class RouteRef(BaseModel):
    route_id: int
    day: date


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["fixed", "unable_to_access", "refused", "not_found"]
    note: Text | None = Field(None, max_length=2000)


class StopOut(BaseModel):
    stop_id: int
    visit_id: int
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    units: dict[str, str]  # serial -> state


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
