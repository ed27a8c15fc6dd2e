"""HTTP routes of recall campaigns. Support leads declare and steer; partner keys see only
their own units, sites and visits (another partner's ids answer 404) and may confirm or
reschedule their own visits."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from core.deps import get_session, require_roles
from core.idempotency import idempotency_key_header
from core.inputs import IdPath
from core.pagination import Page, PageRequest, page_request
from core.security import Principal
from core.settings import get_settings
from devices.filters import filter_ids
from recall.campaigns import ledger, lifecycle, repository, visits
from recall.campaigns import service as campaigns
from recall.campaigns.schemas import (
    CampaignIn,
    CampaignOut,
    CampaignUnitOut,
    CloseIn,
    DryRunOut,
    FailureStatusIn,
    LedgerOut,
    ReevaluationOut,
    RescheduleIn,
    UnitStateIn,
    UnitStateName,
    VisitOut,
    VisitStatusName,
)

router = APIRouter(prefix="/api/v1", tags=["recalls"])
lead = require_roles("support_lead")
lead_or_partner = require_roles("support_lead", "partner")


@router.post("/campaigns/dry-run", response_model=DryRunOut)
def dry_run(
    body: CampaignIn,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> DryRunOut:
    """A mock recall: the units, sites and partners the scope covers. Changes nothing."""
    return campaigns.dry_run(session, spec=body)


@router.post("/campaigns", response_model=CampaignOut, status_code=201)
def declare(
    body: CampaignIn,
    idempotency_key: str | None = Depends(idempotency_key_header),
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> JSONResponse:
    """Declare a recall. Send an Idempotency-Key header to make retries safe: the same key
    again answers with the first campaign; with a different body it is a 422."""
    status, answer = campaigns.declare_once(
        session, spec=body, actor=principal.actor, tenant=principal.tenant, key=idempotency_key
    )
    return JSONResponse(answer, status_code=status)


@router.get("/campaigns", response_model=list[CampaignOut])
def list_campaigns(
    status: Literal["active", "closed"] | None = Query(None),
    principal: Principal = Depends(lead_or_partner),
    session: Session = Depends(get_session),
) -> list[CampaignOut]:
    scope = principal.partner_scope
    return [
        campaigns.campaign_out(session, c, partner_id=scope)
        for c in campaigns.list_campaigns(session, partner_id=scope, status=status)
    ]


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut)
def get_campaign(
    campaign_id: IdPath,
    principal: Principal = Depends(lead_or_partner),
    session: Session = Depends(get_session),
) -> CampaignOut:
    scope = principal.partner_scope
    campaign = campaigns.get_campaign(session, campaign_id=campaign_id, partner_id=scope)
    return campaigns.campaign_out(session, campaign, partner_id=scope)


@router.post("/campaigns/{campaign_id}/reevaluate", response_model=ReevaluationOut)
def reevaluate(
    campaign_id: IdPath,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> ReevaluationOut:
    """Add units that entered the scope since the declaration; none is ever dropped."""
    return campaigns.reevaluate(session, campaign_id=campaign_id, actor=principal.actor)


@router.post("/campaigns/{campaign_id}/close", response_model=CampaignOut)
def close_campaign(
    campaign_id: int,
    body: CloseIn | None = None,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> CampaignOut:
    """Close a complete campaign (every unit fixed or waived; a 409 names what is left).
    Partners are told; the campaign is no longer planned, re-evaluated or an active
    recall for detection."""
    campaign = campaigns.close_campaign(
        session, campaign_id=campaign_id, actor=principal.actor, note=body.note if body else None
    )
    return campaigns.campaign_out(session, campaign, partner_id=None)


@router.get("/campaigns/{campaign_id}/ledger", response_model=LedgerOut)
def get_ledger(
    campaign_id: IdPath,
    follow_up_days: int = Query(3, ge=0, le=365, description="N of the follow-up list"),
    principal: Principal = Depends(lead_or_partner),
    session: Session = Depends(get_session),
) -> LedgerOut:
    """Counts per state, completion, follow-up list and the 24-hour promise; a partner
    sees its own line only."""
    scope = principal.partner_scope
    campaigns.get_campaign(session, campaign_id=campaign_id, partner_id=scope)
    return ledger.campaign_ledger(
        session, campaign_id=campaign_id, partner_id=scope, follow_up_days=follow_up_days
    )


@router.get("/campaigns/{campaign_id}/units", response_model=Page[CampaignUnitOut])
def list_units(
    campaign_id: IdPath,
    state: UnitStateName | None = Query(None),
    site: str | None = Query(None, description="site_key"),
    decision_pending: bool | None = Query(
        None, description="true: units waiting for the lead (refused, or out of visits)"
    ),
    page: PageRequest = Depends(page_request),
    principal: Principal = Depends(lead_or_partner),
    session: Session = Depends(get_session),
) -> Page[CampaignUnitOut]:
    scope = principal.partner_scope
    campaigns.get_campaign(session, campaign_id=campaign_id, partner_id=scope)
    filter_ids(session, partner_scope=scope, site=site)
    items, total = repository.list_units(
        session,
        campaign_id=campaign_id,
        partner_id=scope,
        page=page,
        state=state,
        site_key=site,
        decision_pending=decision_pending,
        max_visits=get_settings().recall_max_visits_per_unit,
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/campaigns/{campaign_id}/units/{serial}", response_model=CampaignUnitOut)
def get_unit(
    campaign_id: IdPath,
    serial: str,
    principal: Principal = Depends(lead_or_partner),
    session: Session = Depends(get_session),
) -> CampaignUnitOut:
    """A unit's state in the recall and its whole history."""
    return campaigns.unit_with_history(
        session, campaign_id=campaign_id, serial=serial, partner_id=principal.partner_scope
    )


@router.post("/campaigns/{campaign_id}/units/{serial}/state", response_model=CampaignUnitOut)
def change_unit_state(
    campaign_id: IdPath,
    serial: str,
    body: UnitStateIn,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> CampaignUnitOut:
    """Move a unit along its lifecycle; an illegal move is a 409 that says why. The lead's
    decisions: a refused unit (or one out of visits) back to ``notified`` for a revisit,
    or ``waived`` with a reason; any unit not fixed may be waived (decommissioned,
    replaced by the partner)."""
    return campaigns.change_unit_state(
        session,
        campaign_id=campaign_id,
        serial=serial,
        to_state=body.state,
        reason=body.reason,
        actor=principal.actor,
    )


@router.get("/campaigns/{campaign_id}/visits", response_model=list[VisitOut])
def list_visits(
    campaign_id: IdPath,
    status: VisitStatusName | None = Query(None),
    principal: Principal = Depends(lead_or_partner),
    session: Session = Depends(get_session),
) -> list[VisitOut]:
    """The campaign's visits (a site visited again has one per attempt): requested,
    scheduled (date and window), done or cancelled."""
    scope = principal.partner_scope
    campaigns.get_campaign(session, campaign_id=campaign_id, partner_id=scope)
    return visits.list_visits(session, campaign_id=campaign_id, partner_id=scope, status=status)


@router.get("/visits/{visit_id}", response_model=VisitOut)
def get_visit(
    visit_id: IdPath,
    principal: Principal = Depends(lead_or_partner),
    session: Session = Depends(get_session),
) -> VisitOut:
    return visits.get_visit(session, visit_id=visit_id, partner_id=principal.partner_scope)


@router.post("/visits/{visit_id}/confirm", response_model=VisitOut)
def confirm_visit(
    visit_id: IdPath,
    principal: Principal = Depends(lead_or_partner),
    session: Session = Depends(get_session),
) -> VisitOut:
    """The partner confirms the proposed date; confirmed visits stay put in re-plans."""
    return visits.confirm(
        session, visit_id=visit_id, partner_id=principal.partner_scope, actor=principal.actor
    )


@router.post("/visits/{visit_id}/reschedule", response_model=VisitOut)
def reschedule_visit(
    visit_id: IdPath,
    body: RescheduleIn,
    principal: Principal = Depends(lead_or_partner),
    session: Session = Depends(get_session),
) -> VisitOut:
    """Blocked dates and preferred windows that the planner must respect."""
    return visits.reschedule(
        session,
        visit_id=visit_id,
        partner_id=principal.partner_scope,
        request=body,
        actor=principal.actor,
    )


@router.post("/failures/{report_key}/status", status_code=204)
def change_failure_status(
    report_key: str,
    body: FailureStatusIn,
    reporter: str | None = Query(
        None, max_length=100, description="whose key: a partner_key, or operator"
    ),
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> None:
    """Triage, link to a recall, or resolve (with a note the reporting partner sees and
    is sent)."""
    lifecycle.change_failure_status(
        session,
        report_key=report_key,
        to_state=body.status,
        actor=principal.actor,
        note=body.note,
        campaign_id=body.campaign_id,
        reporter=reporter,
    )
