"""What a partner sees of its recalls, in plain words: each recall that concerns it, and
per site the visit's state, date and arrival window (in the site's time zone), the units
with their states, and what happens next. The partner portal (``api/pages/partner``)
renders it; nothing here knows of pages.

Per site it shows the newest visit (a site visited again has one per attempt). Sites
come in date order, those without a date last; active recalls come before closed ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.pagination import PageRequest
from recall.campaigns import repository
from recall.campaigns.schemas import CampaignUnitOut, VisitOut
from recall.campaigns.service import list_campaigns
from recall.campaigns.visit_notices import window_text
from recall.campaigns.visits import list_visits
from recall.models import Campaign

# A unit's state as its partner reads it.
UNIT_WORDS = {
    "affected": "affected: it needs the fix",
    "notified": "affected: waiting for a visit date",
    "scheduled": "a visit is planned",
    "in_progress": "being fixed now",
    "fixed": "fixed",
    "unable_to_access": "we could not reach it: we will come back",
    "refused": "the fix was declined on site: our support lead will call you",
    "not_found": "not found at the site: we will come back",
    "waived": "no fix needed",
}
# A visit's state, in a word or two.
VISIT_WORDS = {
    "requested": "being planned",
    "scheduled": "planned",
    "done": "done",
    "cancelled": "not needed",
}


@dataclass(frozen=True)
class UnitView:
    serial: str
    state: str
    words: str


@dataclass(frozen=True)
class SiteView:
    visit: VisitOut
    units: tuple[UnitView, ...]
    state: str  # the visit's state in a word or two ("confirmed" for a confirmed one)
    when: str | None  # the date and arrival window in the site's zone, in words
    next_step: str
    can_confirm: bool
    can_change: bool  # pick another slot, or say which dates do not suit


@dataclass(frozen=True)
class RecallView:
    campaign_id: int
    title: str
    remedy: str
    active: bool
    deadline: date | None
    summary: str
    sites: tuple[SiteView, ...]


def _units(units: list[CampaignUnitOut]) -> tuple[UnitView, ...]:
    return tuple(
        UnitView(
            u.serial,
            u.state,
            UNIT_WORDS[u.state] + (f" ({u.note})" if u.state == "waived" and u.note else ""),
        )
        for u in units
    )


def _wishes(visit: VisitOut) -> str:
    parts = []
    if visit.blocked_dates:
        parts.append("not on " + ", ".join(d.isoformat() for d in visit.blocked_dates))
    if visit.preferred_windows:
        parts.append(
            "within "
            + ", ".join(f"{w['start'][:5]}-{w['end'][:5]}" for w in visit.preferred_windows)
        )
    return f" We plan around your wishes ({'; '.join(parts)})." if parts else ""


def next_step(visit: VisitOut, units: tuple[UnitView, ...], today: date) -> str:
    """What happens next at the site, plainly."""
    states = {u.state for u in units}
    if visit.status == "cancelled":
        return "No visit is needed any more."
    if visit.status == "done":
        if states & {"unable_to_access", "not_found", "notified"}:
            return "We will come back for the units not fixed; a new date follows."
        if "refused" in states:
            return "Our support lead will call you about the units not fixed."
        return "Nothing more to do at this site."
    if visit.status == "requested":
        again = "We will come back" if visit.attempt > 1 else "We are planning this visit"
        return (
            f"{again}: you will get a date and a two-hour arrival window as soon as it is "
            f"planned.{_wishes(visit)}"
        )
    if visit.scheduled_date == today:
        return "The technician comes today."
    if visit.scheduled_date is not None and visit.scheduled_date < today:
        return "This visit is overdue: we will send you a new date."
    if visit.partner_confirmed_at is not None:
        return "Confirmed: the technician comes in the arrival window shown."
    return "Please confirm the date, or pick another slot."


def site_view(visit: VisitOut, units: list[CampaignUnitOut], today: date) -> SiteView:
    shown = _units(units)
    upcoming = visit.scheduled_date is None or visit.scheduled_date > today
    open_ = visit.status in ("requested", "scheduled")
    working = any(u.state == "in_progress" for u in units)
    state = VISIT_WORDS[visit.status]
    if visit.status == "scheduled" and visit.partner_confirmed_at is not None:
        state = "confirmed"
    when = None
    if visit.scheduled_date is not None and visit.status != "cancelled":
        when = window_text(
            visit.scheduled_date, visit.window_start, visit.window_end, visit.site_timezone
        )
    return SiteView(
        visit=visit,
        units=shown,
        state=state,
        when=when,
        next_step=next_step(visit, shown, today),
        can_confirm=visit.status == "scheduled" and visit.partner_confirmed_at is None and upcoming,
        can_change=open_ and upcoming and not working,
    )


def _sorted(sites: list[SiteView]) -> tuple[SiteView, ...]:
    return tuple(
        sorted(
            sites,
            key=lambda s: (
                s.visit.scheduled_date is None,
                s.visit.scheduled_date or date.max,
                s.visit.window_start.isoformat() if s.visit.window_start else "",
                s.visit.site_name,
            ),
        )
    )


def _recall(session: Session, campaign: Campaign, partner_id: int, now: datetime) -> RecallView:
    units, _ = repository.list_units(
        session,
        campaign_id=campaign.id,
        partner_id=partner_id,
        page=PageRequest(limit=100_000, offset=0),
    )
    newest: dict[str, VisitOut] = {}
    for visit in list_visits(session, campaign_id=campaign.id, partner_id=partner_id):
        if visit.site_key not in newest or visit.attempt > newest[visit.site_key].attempt:
            newest[visit.site_key] = visit
    sites = [
        site_view(
            v,
            [u for u in units if u.site_key == key],
            now.astimezone(ZoneInfo(v.site_timezone)).date(),
        )
        for key, v in newest.items()
    ]
    fixed = sum(1 for u in units if u.state in ("fixed", "waived"))
    n, m = len(units), len(sites)
    if n == 1:
        summary = f"One of your units is affected; {'it is' if fixed else 'not yet'} done."
    else:
        summary = f"{n} of your units at {m} site{'s' * (m != 1)} are affected; {fixed} done."
    return RecallView(
        campaign_id=campaign.id,
        title=campaign.title,
        remedy=campaign.remedy,
        active=campaign.status == "active",
        deadline=campaign.deadline,
        summary=summary,
        sites=_sorted(sites),
    )


def partner_recalls(session: Session, *, partner_id: int, now: datetime) -> list[RecallView]:
    """Every recall that concerns the partner: active ones first, each by its next
    visit date. "Today" is each site's own date at ``now``."""
    recalls = [
        _recall(session, c, partner_id, now) for c in list_campaigns(session, partner_id=partner_id)
    ]
    return sorted(
        recalls,
        key=lambda r: (
            not r.active,
            min((s.visit.scheduled_date or date.max for s in r.sites), default=date.max),
            r.campaign_id,
        ),
    )
