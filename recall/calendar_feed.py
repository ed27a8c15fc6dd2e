"""Each partner's iCalendar feed of its scheduled recall visits, at a secret URL.

The URL carries a random token; only its hash is stored (like API keys), so a leaked
database does not leak feeds, and asking for a new URL revokes the old one.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.security import hash_key
from devices.models import Partner, Site
from recall.campaign_models import CalendarFeed, Campaign, VisitRequest

PRODID = "-//fieldrecall//recall visits//EN"


def new_feed_token(session: Session, *, partner_id: int) -> str:
    """A fresh secret token for the partner's feed; the previous one stops working."""
    token = "cal_" + secrets.token_urlsafe(32)
    stmt = pg_insert(CalendarFeed).values(partner_id=partner_id, token_hash=hash_key(token))
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["partner_id"],
            set_={"token_hash": stmt.excluded.token_hash, "created_at": datetime.now(UTC)},
        )
    )
    return token


def partner_for_token(session: Session, token: str) -> Partner:
    partner = session.scalar(
        select(Partner)
        .join(CalendarFeed, CalendarFeed.partner_id == Partner.id)
        .where(CalendarFeed.token_hash == hash_key(token))
    )
    if partner is None:
        raise NotFound("no calendar feed at this address (it may have been replaced)")
    return partner


def partner_calendar(session: Session, *, partner: Partner) -> bytes:
    """The partner's scheduled visits as VEVENTs; a visit without an arrival window is an
    all-day event on its date."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"Recall visits: {partner.name}")
    rows = session.execute(
        select(VisitRequest, Site, Campaign)
        .join(Site, Site.id == VisitRequest.site_id)
        .join(Campaign, Campaign.id == VisitRequest.campaign_id)
        .where(VisitRequest.partner_id == partner.id, VisitRequest.status == "scheduled")
        .order_by(VisitRequest.scheduled_date, Site.site_key)
    ).all()
    for visit, site, campaign in rows:
        event = Event()
        event.add("uid", f"visit-{visit.id}@fieldrecall")
        event.add("dtstamp", visit.updated_at)
        if visit.window_start and visit.window_end:
            event.add("dtstart", visit.window_start)
            event.add("dtend", visit.window_end)
        else:
            assert visit.scheduled_date is not None  # the table's check guarantees it
            event.add("dtstart", visit.scheduled_date)
            event.add("dtend", visit.scheduled_date + timedelta(days=1))
        event.add("summary", f"Recall visit: {campaign.title} at {site.name}")
        event.add("location", ", ".join(p for p in (site.name, site.address) if p))
        event.add("geo", (site.lat, site.lon))
        event.add(
            "description",
            f"{visit.unit_count} unit(s) to fix. {campaign.remedy}\n"
            f"Arrival window as shown; about {visit.estimated_minutes} minutes on site."
            + ("" if visit.partner_confirmed_at else "\nPlease confirm this date."),
        )
        event.add("status", "CONFIRMED" if visit.partner_confirmed_at else "TENTATIVE")
        cal.add_component(event)
    return cal.to_ical()
