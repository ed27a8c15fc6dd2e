"""Each partner's iCalendar feed of its scheduled recall visits, behind its secret link."""

from __future__ import annotations

from datetime import timedelta

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.links import link_for_token
from devices.models import Partner, Site
from recall.campaign_models import Campaign, VisitRequest

PRODID = "-//fieldrecall//recall visits//EN"


def partner_for_token(session: Session, token: str) -> Partner:
    """The partner whose link this is; 404 for a technician's or an unknown link."""
    link = link_for_token(session, token)
    if link.partner_id is None:
        raise NotFound("nothing at this address (the link may have been replaced)")
    return session.get_one(Partner, link.partner_id)


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
