"""The technician's workflow at a stop: start it, record an outcome per unit, finish it.
Each call is safe to repeat. Unit states, the ledger and the partner's notice follow
through recall's service functions in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from core.deps import get_session, require_roles
from core.security import Principal
from recall import field_work
from routing.sheets import stop_for

router = APIRouter(prefix="/api/v1", tags=["technician workflow"])
staff = require_roles("technician", "support_lead")


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["fixed", "unable_to_access", "refused", "not_found"]
    note: str | None = Field(None, max_length=2000)


class StopOut(BaseModel):
    stop_id: int
    visit_id: int
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    units: dict[str, str]  # serial -> state


def _out(session: Session, stop_id: int, technician_id: int | None) -> StopOut:
    stop = stop_for(session, stop_id=stop_id, technician_id=technician_id)
    work = field_work.visit_work(session, [stop.visit_request_id])[stop.visit_request_id]
    return StopOut(
        stop_id=stop.id,
        visit_id=stop.visit_request_id,
        status=stop.status,
        started_at=stop.started_at,
        finished_at=stop.finished_at,
        units={u.serial: u.state for u in work.units},
    )


@router.post("/stops/{stop_id}/start", response_model=StopOut)
def start_stop(
    stop_id: int,
    principal: Principal = Depends(staff),
    session: Session = Depends(get_session),
) -> StopOut:
    """On site: the stop starts and its units go in progress."""
    stop = stop_for(session, stop_id=stop_id, technician_id=principal.technician_id)
    if stop.status == "planned":
        field_work.start_visit(session, visit_id=stop.visit_request_id, actor=principal.actor)
        stop.status, stop.started_at = "started", datetime.now(UTC)
        session.flush()
    return _out(session, stop_id, principal.technician_id)


@router.post("/stops/{stop_id}/units/{serial}/outcome", response_model=StopOut)
def record_outcome(
    stop_id: int,
    serial: str,
    body: OutcomeIn,
    principal: Principal = Depends(staff),
    session: Session = Depends(get_session),
) -> StopOut:
    """fixed, unable_to_access, refused or not_found, with a note; the same outcome twice
    changes nothing, a different one after a final state is a 409."""
    stop = stop_for(session, stop_id=stop_id, technician_id=principal.technician_id)
    if stop.status == "planned":
        start_stop(stop_id, principal, session)
    field_work.record_outcome(
        session,
        visit_id=stop.visit_request_id,
        serial=serial,
        outcome=body.outcome,
        note=body.note,
        actor=principal.actor,
    )
    return _out(session, stop_id, principal.technician_id)


@router.post("/stops/{stop_id}/finish", response_model=StopOut)
def finish_stop(
    stop_id: int,
    principal: Principal = Depends(staff),
    session: Session = Depends(get_session),
) -> StopOut:
    """Every unit has an outcome: the visit is done and the partner is told."""
    stop = stop_for(session, stop_id=stop_id, technician_id=principal.technician_id)
    field_work.finish_visit(session, visit_id=stop.visit_request_id, actor=principal.actor)
    if stop.status != "finished":
        stop.status, stop.finished_at = "finished", datetime.now(UTC)
        stop.started_at = stop.started_at or stop.finished_at
        session.flush()
    return _out(session, stop_id, principal.technician_id)
