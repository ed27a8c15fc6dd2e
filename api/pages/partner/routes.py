"""The partner portal's visit pages: the recalls that concern the partner (per site the
visit's state, date and arrival window, the units, what happens next, and on the visit
day the technician's progress), confirming a visit with one tap, picking another slot
from those that fit the published plan, and "none of these" (dates that do not suit, a
preferred window). Every route is served twice: behind the partner's secret link
(``/p/<token>/...``) and for a partner signed in with its key (``/portal/...``); another
partner's visit answers 404. The calendar feed stays at ``/feeds/<token>.ics``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.pages.errors import PageRoute
from api.pages.partner.access import Portal, current_portal
from api.pages.partner.render import portal_page
from core.deps import get_session
from core.errors import InvalidInput
from core.settings import get_settings
from recall.campaigns import visits
from recall.campaigns.partner_view import partner_recalls
from recall.campaigns.schemas import PreferredWindow, RescheduleIn
from recall.campaigns.visits import partner_calendar, partner_for_token
from routing.plans.progress import visit_day_progress
from routing.plans.slots import book_slot, slot_offers

WISH_DAYS = 14  # the days "none of these" lets a partner block, from tomorrow
portal = Depends(current_portal)
db = Depends(get_session)

feeds = APIRouter(include_in_schema=False, route_class=PageRoute)


@feeds.get("/feeds/{token}.ics")
def feed(token: str, session: Session = db) -> Response:
    partner = partner_for_token(session, token)
    return Response(
        partner_calendar(session, partner=partner), media_type="text/calendar; charset=utf-8"
    )


@feeds.get("/p/{token}")
def portal_address(token: str) -> Response:
    """The link as older notices wrote it: the portal is one slash further."""
    return RedirectResponse(f"/p/{token}/", status_code=308)


def _done(portal: Portal, message: str, visit_id: int | None = None) -> Response:
    anchor = f"#visit-{visit_id}" if visit_id is not None else ""
    return RedirectResponse(portal.url(f"/?done={message}{anchor}"), status_code=303)


def home(p: Portal = portal, session: Session = db, done: str | None = None) -> Response:
    now = datetime.now(UTC)
    recalls = partner_recalls(session, partner_id=p.partner_id, now=now)
    today_visits = [
        s.visit
        for r in recalls
        for s in r.sites
        if s.visit.status == "scheduled"
        and s.visit.scheduled_date == now.astimezone(ZoneInfo(s.visit.site_timezone)).date()
    ]
    progress = {}
    for visit in today_visits:
        assert visit.scheduled_date is not None
        progress.update(visit_day_progress(session, visit_ids=[visit.id], day=visit.scheduled_date))
    return portal_page(p, "portal_home.html", recalls=recalls, progress=progress, done=done)


def progress_fragment(visit_id: int, p: Portal = portal, session: Session = db) -> Response:
    """The visit day's progress block alone (the home page refreshes it every minute)."""
    visit = visits.get_visit(session, visit_id=visit_id, partner_id=p.partner_id)
    progress = None
    if visit.status == "scheduled" and visit.scheduled_date is not None:
        progress = visit_day_progress(session, visit_ids=[visit.id], day=visit.scheduled_date).get(
            visit.id
        )
    return portal_page(p, "portal_progress.html", visit=visit, day=progress)


def confirm(visit_id: int, p: Portal = portal, session: Session = db) -> Response:
    """One tap: the partner accepts the date (confirming again changes nothing)."""
    visits.confirm(session, visit_id=visit_id, partner_id=p.partner_id, actor=p.actor)
    return _done(p, "confirmed", visit_id)


def _wish_days(visit_timezone: str) -> list[date]:
    tomorrow = datetime.now(ZoneInfo(visit_timezone)).date() + timedelta(days=1)
    return [tomorrow + timedelta(days=i) for i in range(WISH_DAYS)]


def _slots_page(
    p: Portal, session: Session, visit_id: int, *, message: str | None = None, status: int = 200
) -> Response:
    visit = visits.get_visit(session, visit_id=visit_id, partner_id=p.partner_id)
    offers = slot_offers(
        session, visit_id=visit_id, partner_id=p.partner_id, settings=get_settings()
    )
    return portal_page(
        p,
        "portal_slots.html",
        status_code=status,
        visit=visit,
        offers=offers,
        message=message,
        wish_days=_wish_days(visit.site_timezone),
    )


def slots(visit_id: int, p: Portal = portal, session: Session = db) -> Response:
    return _slots_page(p, session, visit_id)


def book(
    visit_id: int,
    day: date = Form(...),
    window_start: datetime = Form(...),
    p: Portal = portal,
    session: Session = db,
) -> Response:
    """Book the slot at once; a slot taken meanwhile shows the slots free now."""
    booking = book_slot(
        session,
        visit_id=visit_id,
        partner_id=p.partner_id,
        day=day,
        window_start=window_start,
        actor=p.actor,
        settings=get_settings(),
    )
    if booking.outcome in ("booked", "unchanged"):
        return _done(p, "booked", visit_id)
    if booking.outcome == "taken":
        message = "That slot was taken meanwhile. These slots are free now:"
    else:
        assert booking.offers is not None
        message = booking.offers.why_none or "No slot can be booked now."
    return _slots_page(p, session, visit_id, message=message, status=409)


def _local_time(text: str, name: str) -> time | None:
    if not text:
        return None
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name} is not a time of day (HH:MM): {text!r}") from None


def wishes(
    visit_id: int,
    blocked: list[date] = Form([]),
    prefer_from: str = Form(""),
    prefer_to: str = Form(""),
    note: str = Form(""),
    p: Portal = portal,
    session: Session = db,
) -> Response:
    """None of the slots suits: dates that do not suit and a preferred window (the whole
    visit inside it); the visit is planned again around them and the lead sees it."""
    start, end = _local_time(prefer_from, "from"), _local_time(prefer_to, "until")
    if (start is None) != (end is None):
        raise InvalidInput("a preferred window needs both a start and an end time")
    try:
        request = RescheduleIn(
            blocked_dates=blocked,
            preferred_windows=[PreferredWindow(start=start, end=end)] if start and end else [],
            note=note.strip() or None,
        )
    except ValidationError as exc:
        raise InvalidInput(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
    visits.reschedule(
        session, visit_id=visit_id, partner_id=p.partner_id, request=request, actor=p.actor
    )
    return _done(p, "asked", visit_id)


def portal_router(prefix: str) -> APIRouter:
    """The visit pages under ``prefix`` (``/p/{token}`` or ``/portal``)."""
    router = APIRouter(prefix=prefix, route_class=PageRoute, include_in_schema=False)
    page = HTMLResponse
    router.add_api_route("/", home, methods=["GET"], response_class=page)
    router.add_api_route(
        "/visits/{visit_id}/progress", progress_fragment, methods=["GET"], response_class=page
    )
    router.add_api_route("/visits/{visit_id}/confirm", confirm, methods=["POST"])
    router.add_api_route("/visits/{visit_id}/slots", slots, methods=["GET"], response_class=page)
    router.add_api_route("/visits/{visit_id}/slots", book, methods=["POST"], response_class=page)
    router.add_api_route("/visits/{visit_id}/wishes", wishes, methods=["POST"])
    return router
