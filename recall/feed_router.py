"""The partners' calendar feeds: a partner key asks for its secret URL; the URL itself
needs no key (calendar apps cannot send one), the token in it is the secret."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.deps import get_session, require_roles
from core.errors import InvalidInput, NotFound
from core.security import Principal
from core.settings import get_settings
from devices.models import Partner
from recall.calendar_feed import new_feed_token, partner_calendar, partner_for_token

router = APIRouter(tags=["recalls"])


class FeedOut(BaseModel):
    partner_key: str
    url: str


@router.post("/api/v1/calendar-feed", response_model=FeedOut, status_code=201)
def create_feed(
    partner: str | None = Query(None, description="partner_key (support lead only)"),
    principal: Principal = Depends(require_roles("partner", "support_lead")),
    session: Session = Depends(get_session),
) -> FeedOut:
    """A new secret iCalendar URL of the partner's scheduled visits; the old one stops
    working. Shown once."""
    if principal.partner_scope is not None:
        partner_id = principal.partner_scope
    elif partner is None:
        raise InvalidInput("a support lead names the partner: ?partner=PARTNER_KEY")
    else:
        found = session.scalar(select(Partner.id).where(Partner.partner_key == partner))
        if found is None:
            raise NotFound(f"no partner {partner!r}")
        partner_id = found
    token = new_feed_token(session, partner_id=partner_id)
    key = session.scalars(select(Partner.partner_key).where(Partner.id == partner_id)).one()
    return FeedOut(partner_key=key, url=f"{get_settings().public_base_url}/feeds/{token}.ics")


@router.get("/feeds/{token}.ics", response_class=Response)
def feed(token: str, session: Session = Depends(get_session)) -> Response:
    partner = partner_for_token(session, token)
    return Response(
        partner_calendar(session, partner=partner), media_type="text/calendar; charset=utf-8"
    )
