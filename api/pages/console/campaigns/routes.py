"""Campaigns in the console: the list of recalls, and each recall's page (ledger per
state and per partner, progress as a burn-down, the follow-up list with the partners'
contacts and a button that reminds a partner through the outbox, the units awaiting a
revisit or the lead's decision with the buttons that decide, the 24-hour promise, the
inbox of the partners' actions, the plans with the form that starts one, closing the
recall once every unit is fixed or waived)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api.pages.console.access import console_lead
from api.pages.console.campaigns.view import campaign_page
from api.pages.console.render import console_page, once_key, see_other
from api.pages.errors import PageRoute
from api.pages.sessions import PageSession
from core.deps import get_session
from core.settings import get_settings
from recall.campaigns import reminders
from recall.campaigns import service as campaigns
from recall.models import UNIT_STATES

router = APIRouter(prefix="/console/campaigns", route_class=PageRoute, include_in_schema=False)
lead = Depends(console_lead)
PLAN_DAYS = 14  # the horizon the start form proposes


@router.get("", response_class=HTMLResponse)
def campaigns_page(
    signed_in: PageSession = lead, session: Session = Depends(get_session)
) -> Response:
    listed = [
        campaigns.campaign_out(session, c, partner_id=None)
        for c in campaigns.list_campaigns(session, partner_id=None)
    ]
    return console_page("campaigns.html", signed_in, campaigns=listed)


@router.get("/{campaign_id}", response_class=HTMLResponse)
def campaign(
    campaign_id: int,
    follow_up_days: int = Query(3, ge=0, le=365),
    unread: bool = Query(False, description="the inbox's unread items only"),
    reminded: str | None = Query(None, max_length=100),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    shown = campaign_page(
        session, campaign_id=campaign_id, follow_up_days=follow_up_days, unread_only=unread
    )
    first_day = shown.today.day + timedelta(days=1)
    return console_page(
        "campaign.html",
        signed_in,
        c=shown,
        states=UNIT_STATES,
        reminder_key=once_key(),
        reminded=reminded,
        unread_only=unread,
        plan_first_day=first_day,
        plan_last_day=first_day + timedelta(days=PLAN_DAYS - 1),
        plan_seconds=get_settings().plan_default_seconds,
        plan_max_seconds=get_settings().plan_max_seconds,
    )


@router.post("/{campaign_id}/remind")
def remind(
    campaign_id: int,
    partner_key: str = Form(..., min_length=1, max_length=100),
    request_key: str = Form(..., min_length=1, max_length=100),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    """Send the partner a reminder through the outbox (once per form shown)."""
    reminders.remind_partner(
        session,
        campaign_id=campaign_id,
        partner_key=partner_key,
        request_key=request_key,
        actor=signed_in.principal.actor,
    )
    return see_other(f"/console/campaigns/{campaign_id}", reminded=partner_key)


@router.post("/{campaign_id}/units/{serial}/state")
def decide(
    campaign_id: int,
    serial: str,
    state: Literal["notified", "waived"] = Form(...),
    reason: str = Form("", max_length=2000),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    """The lead's decision on a unit: ``notified`` re-opens it for a revisit, ``waived``
    closes it with a reason (refused for good, decommissioned, replaced)."""
    campaigns.change_unit_state(
        session,
        campaign_id=campaign_id,
        serial=serial,
        to_state=state,
        reason=reason.strip() or None,
        actor=signed_in.principal.actor,
    )
    return see_other(f"/console/campaigns/{campaign_id}")


@router.post("/{campaign_id}/close")
def close(
    campaign_id: int,
    note: str = Form("", max_length=2000),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    """Close a complete recall; partners are told (a 409 page names what is left)."""
    campaigns.close_campaign(
        session, campaign_id=campaign_id, actor=signed_in.principal.actor, note=note.strip() or None
    )
    return see_other(f"/console/campaigns/{campaign_id}")
