"""A partner's pages behind its secret link: the calendar feed of scheduled visits and a
status page of its own sites (each visit's status, date and arrival window, each unit's
state). Nothing of another partner is reachable from a link."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.pages import template
from core.deps import get_session
from core.pagination import PageRequest
from recall.campaigns import repository as campaign_units
from recall.campaigns import service as campaigns
from recall.campaigns import visits
from recall.campaigns.visits import partner_calendar, partner_for_token

router = APIRouter(include_in_schema=False)


@router.get("/feeds/{token}.ics")
def feed(token: str, session: Session = Depends(get_session)) -> Response:
    partner = partner_for_token(session, token)
    return Response(
        partner_calendar(session, partner=partner), media_type="text/calendar; charset=utf-8"
    )


@router.get("/p/{token}", response_class=HTMLResponse)
def status_page(token: str, session: Session = Depends(get_session)) -> HTMLResponse:
    partner = partner_for_token(session, token)
    items = []
    for campaign in campaigns.list_campaigns(session, partner_id=partner.id):
        units, _ = campaign_units.list_units(
            session,
            campaign_id=campaign.id,
            partner_id=partner.id,
            page=PageRequest(limit=10_000, offset=0),
        )
        items.append(
            (
                campaign,
                visits.list_visits(session, campaign_id=campaign.id, partner_id=partner.id),
                units,
            )
        )
    return HTMLResponse(
        template("api.pages.partner", "partner_status.html").render(
            local=lambda moment, zone: moment.astimezone(ZoneInfo(zone)).strftime("%H:%M"),
            partner=partner,
            items=items,
            feed=f"/feeds/{token}.ics",
        )
    )
