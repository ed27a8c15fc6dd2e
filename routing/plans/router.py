"""HTTP routes of field plans, absences and site closures: the support lead's alone
(partner and technician keys get 403). Starting a plan answers 202 at once; the solve
runs on a worker and GET /plans/{id} shows its progress."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from core.deps import get_session, require_roles
from core.inputs import IdPath
from core.security import Principal
from core.settings import get_settings
from routing.plans import availability
from routing.plans import service as plans
from routing.plans.schemas import (
    AbsenceIn,
    AbsenceOut,
    ClosureIn,
    ClosureOut,
    PlanDetailOut,
    PlanIn,
    PlanOut,
    PublishOut,
    ReplanIn,
)

router = APIRouter(prefix="/api/v1", tags=["field plans"])
lead = require_roles("support_lead")


@router.post("/campaigns/{campaign_id}/plans", response_model=PlanOut, status_code=202)
def start_plan(
    campaign_id: IdPath,
    body: PlanIn,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> PlanOut:
    """Queue a new plan version over first_day..last_day; a worker solves it."""
    plan = plans.start_plan(
        session,
        campaign_id=campaign_id,
        first_day=body.first_day,
        last_day=body.last_day,
        seconds=body.seconds,
        actor=principal.actor,
        settings=get_settings(),
    )
    return plans.plan_out(plan)


@router.get("/campaigns/{campaign_id}/plans", response_model=list[PlanOut])
def list_plans(
    campaign_id: IdPath,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> list[PlanOut]:
    """Every version of the campaign's plan, newest first."""
    return plans.list_plans(session, campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/replan", response_model=PlanOut, status_code=202)
def replan(
    campaign_id: IdPath,
    body: ReplanIn | None = None,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> PlanOut:
    """Queue a re-plan of the published plan: today's routes and confirmed visits stay,
    absences, closures and finished visits are fed in, few visits move."""
    body = body or ReplanIn()
    plan = plans.start_replan(
        session,
        campaign_id=campaign_id,
        actor=principal.actor,
        settings=get_settings(),
        today=body.today,
        last_day=body.last_day,
        seconds=body.seconds,
    )
    return plans.plan_out(plan)


@router.get("/plans/{plan_id}", response_model=PlanDetailOut)
def get_plan(
    plan_id: IdPath,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> PlanDetailOut:
    """Status, progress while solving, statistics, routes with stops, unassigned visits."""
    return plans.plan_detail(session, plan_id=plan_id)


@router.post("/plans/{plan_id}/publish", response_model=PublishOut)
def publish(
    plan_id: IdPath,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> PublishOut:
    """Publish a done plan: visits scheduled, partners told what changed for them."""
    return plans.publish(session, plan_id=plan_id, actor=principal.actor)


@router.post("/absences", response_model=list[AbsenceOut], status_code=201)
def record_absence(
    body: AbsenceIn,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> list[AbsenceOut]:
    """The technician will not work first_day..last_day (recording a day again updates it)."""
    rows = availability.record_absence(
        session,
        technician_key=body.technician_key,
        first_day=body.first_day,
        last_day=body.last_day,
        reason=body.reason,
        actor=principal.actor,
    )
    return [
        AbsenceOut(id=a.id, technician_key=body.technician_key, day=a.day, reason=a.reason)
        for a in rows
    ]


@router.get("/absences", response_model=list[AbsenceOut])
def list_absences(
    first_day: date | None = Query(None, alias="from"),
    last_day: date | None = Query(None, alias="to"),
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> list[AbsenceOut]:
    return [
        AbsenceOut(id=a.id, technician_key=key, day=a.day, reason=a.reason)
        for a, key in availability.list_absences(session, first_day=first_day, last_day=last_day)
    ]


@router.delete("/absences/{absence_id}", status_code=204)
def delete_absence(
    absence_id: IdPath,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> None:
    availability.delete_absence(session, absence_id=absence_id, actor=principal.actor)


@router.post("/site-closures", response_model=list[ClosureOut], status_code=201)
def record_closure(
    body: ClosureIn,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> list[ClosureOut]:
    """The site is closed first_day..last_day, whatever its opening hours say."""
    rows = availability.record_closure(
        session,
        site_key=body.site_key,
        first_day=body.first_day,
        last_day=body.last_day,
        reason=body.reason,
        actor=principal.actor,
    )
    return [ClosureOut(id=c.id, site_key=body.site_key, day=c.day, reason=c.reason) for c in rows]


@router.get("/site-closures", response_model=list[ClosureOut])
def list_closures(
    first_day: date | None = Query(None, alias="from"),
    last_day: date | None = Query(None, alias="to"),
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> list[ClosureOut]:
    return [
        ClosureOut(id=c.id, site_key=key, day=c.day, reason=c.reason)
        for c, key in availability.list_closures(session, first_day=first_day, last_day=last_day)
    ]


@router.delete("/site-closures/{closure_id}", status_code=204)
def delete_closure(
    closure_id: IdPath,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> None:
    availability.delete_closure(session, closure_id=closure_id, actor=principal.actor)
