"""Reminding a partner about a recall (the "remind" of the follow-up list): a notice
through the outbox that says what is still open at the partner's sites, the visits
planned there and what the partner can do, recorded in the audit trail.

Each reminder the lead sends is its own notice; the request's key (one per form the lead
was shown) makes a repeated click send it once.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.events import record_event
from devices.service import partner_id
from recall.campaigns import ledger
from recall.campaigns.notices import topic
from recall.campaigns.schemas import PartnerLine, VisitOut
from recall.campaigns.service import get_campaign
from recall.campaigns.visits import list_visits
from recall.models import FINAL_UNIT_STATES, Campaign, OutboxMessage
from recall.notify.outbox import MessageFilter, list_messages, notify_partner

KIND = "recall_reminder"
MAX_REQUEST_KEY = 100


def _visit_line(visit: VisitOut) -> str:
    line = f"  - {visit.site_name} ({visit.site_key})"
    if visit.scheduled_date is None:
        return line + ": the date is not planned yet"
    line += f": {visit.scheduled_date.isoformat()}"
    if visit.window_start is not None and visit.window_end is not None:
        zone = ZoneInfo(visit.site_timezone)
        start, end = visit.window_start.astimezone(zone), visit.window_end.astimezone(zone)
        line += f", between {start:%H:%M} and {end:%H:%M}"
    confirmed = visit.partner_confirmed_at is not None
    return line + (", confirmed" if confirmed else ", please confirm")


def reminder_text(campaign: Campaign, line: PartnerLine, visits: list[VisitOut]) -> str:
    """The reminder's body: what is open, the visits, what the partner can do."""
    units = line.units
    still_open = units.total - sum(getattr(units, state) for state in FINAL_UNIT_STATES)
    body = (
        f"A reminder about the recall {campaign.title}.\n\n"
        f"{still_open} of your {units.total} affected unit{'s' * (units.total != 1)} "
        f"still need{'s' * (still_open == 1)} the fix: {campaign.remedy}\n"
    )
    open_visits = [v for v in visits if v.status in ("requested", "scheduled")]
    if open_visits:
        body += "\nVisits to your sites:\n" + "\n".join(map(_visit_line, open_visits)) + "\n"
    body += (
        "\nPlease confirm the planned dates, or tell us which dates do not suit you and we "
        "will plan the visits again around them. Keep the affected units accessible.\n"
    )
    return body


def remind_partner(
    session: Session, *, campaign_id: int, partner_key: str, request_key: str, actor: str
) -> list[OutboxMessage]:
    """Send the partner a reminder about the campaign through the outbox (one notice per
    ``request_key``); 404 when the campaign does not concern the partner."""
    if not request_key.strip() or len(request_key) > MAX_REQUEST_KEY:
        raise InvalidInput(f"a reminder's request key is 1 to {MAX_REQUEST_KEY} characters")
    campaign = get_campaign(session, campaign_id=campaign_id, partner_id=None)
    partner = partner_id(session, partner_key)
    lines = ledger.campaign_ledger(session, campaign_id=campaign.id, partner_id=partner).partners
    if not lines:
        raise NotFound(f"recall {campaign.id} concerns no unit of partner {partner_key!r}")
    key = f"campaign:{campaign.id}:reminder:{partner_key}:{request_key}"
    sent, already = list_messages(
        session, scope=partner_key, filters=MessageFilter(idempotency_key=key), limit=50, offset=0
    )
    if already:
        return sent  # the same form sent twice: one reminder
    visits = list_visits(session, campaign_id=campaign.id, partner_id=partner)
    messages = notify_partner(
        session,
        partner_key=partner_key,
        kind=KIND,
        subject=f"Reminder: recall {campaign.title}",
        body=reminder_text(campaign, lines[0], visits),
        data={"campaign_id": campaign.id, "units": lines[0].units.total},
        idempotency_key=key,
        topic=topic(campaign.id),
    )
    record_event(
        session,
        actor=actor,
        entity="recall_campaign",
        entity_key=str(campaign.id),
        action="partner_reminded",
        reason=f"reminder to {partner_key}",
        data={"partner_key": partner_key, "messages": [m.id for m in messages]},
    )
    return messages
