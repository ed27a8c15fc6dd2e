"""What a campaign's page shows, gathered from recall's services: the campaign, its
ledger (per state, per partner, completion and fixed rate, what is still open, the
24-hour promise, the follow-up list with each partner's contact), its progress day by
day as a burn-down chart, the units that wait for a revisit or for the lead's decision,
the inbox of the partners' actions on it, and its plans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import altair as alt
from sqlalchemy.orm import Session

from api.pages.widgets import PALETTE, vega_lite
from core.pagination import PageRequest
from core.settings import get_settings
from recall.campaigns import ledger, progress
from recall.campaigns import repository as campaign_units
from recall.campaigns import service as campaigns
from recall.campaigns.progress import DayProgress
from recall.campaigns.schemas import CampaignOut, CampaignUnitOut, LedgerOut
from recall.inbox import service as inbox
from recall.inbox.schemas import InboxItemOut
from recall.models import REVISIT_OUTCOMES
from routing.plans import service as plans
from routing.plans.schemas import PlanOut

UNITS_SHOWN = 200  # of each list of units waiting for something
INBOX_SHOWN = 50


@dataclass(frozen=True)
class CampaignPage:
    campaign: CampaignOut
    ledger: LedgerOut
    burn_down: dict[str, Any]
    today: DayProgress
    # Refused, or not reached in every visit a unit may get: the lead decides.
    decisions: list[CampaignUnitOut]
    decisions_total: int
    # Not accessible or not found, with visits left: a revisit is requested.
    revisits: list[CampaignUnitOut]
    revisits_total: int
    inbox: list[InboxItemOut]
    inbox_total: int
    inbox_unread: int
    plans: list[PlanOut]


def burn_down_chart(days: list[DayProgress]) -> dict[str, Any]:
    """Units still open (not in a final state) per day, and units fixed, from the
    declaration to today."""
    rows = [
        {"day": d.day.isoformat(), "what": what, "units": n}
        for d in days
        for what, n in (("still open", d.open), ("fixed", d.fixed))
    ]
    chart = (
        alt.Chart(alt.Data(values=rows), height=220)
        .mark_line(point=len(days) <= 60, interpolate="step-after")
        .encode(
            x=alt.X("day:T", title="Day (UTC)", axis=alt.Axis(format="%d %b", labelAngle=-45)),
            y=alt.Y("units:Q", title="Units", axis=alt.Axis(tickMinStep=1)),
            color=alt.Color(
                "what:N",
                title=None,
                scale=alt.Scale(domain=["still open", "fixed"], range=[PALETTE[1], PALETTE[2]]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("day:T", title="Day", format="%d %b %Y"),
                alt.Tooltip("what:N", title="Units"),
                alt.Tooltip("units:Q", title="Count"),
            ],
        )
    )
    return vega_lite(chart)


def _units(
    session: Session, campaign_id: int, *, decision: bool, states: tuple[str, ...] = ()
) -> tuple[list[CampaignUnitOut], int]:
    shown: list[CampaignUnitOut] = []
    total = 0
    for state in states or (None,):
        units, n = campaign_units.list_units(
            session,
            campaign_id=campaign_id,
            partner_id=None,
            page=PageRequest(limit=UNITS_SHOWN, offset=0),
            state=state,
            decision_pending=decision,
            max_visits=get_settings().recall_max_visits_per_unit,
        )
        shown += units
        total += n
    return shown[:UNITS_SHOWN], total


def campaign_page(
    session: Session, *, campaign_id: int, follow_up_days: int, unread_only: bool
) -> CampaignPage:
    campaign = campaigns.get_campaign(session, campaign_id=campaign_id, partner_id=None)
    out = campaigns.campaign_out(session, campaign, partner_id=None)
    book = ledger.campaign_ledger(
        session, campaign_id=campaign_id, partner_id=None, follow_up_days=follow_up_days
    )
    days = progress.burn_down(
        session,
        campaign_id=campaign_id,
        declared_on=campaign.declared_at.astimezone(UTC).date(),
        today=datetime.now(UTC).date(),
    )
    decisions, decisions_total = _units(session, campaign_id, decision=True)
    revisits, revisits_total = _units(session, campaign_id, decision=False, states=REVISIT_OUTCOMES)
    items, items_total = inbox.list_items(
        session,
        filters=inbox.InboxFilter(campaign_id=campaign_id, unread=True if unread_only else None),
        page=PageRequest(limit=INBOX_SHOWN, offset=0),
    )
    _, unread = inbox.list_items(
        session,
        filters=inbox.InboxFilter(campaign_id=campaign_id, unread=True),
        page=PageRequest(limit=1, offset=0),
    )
    return CampaignPage(
        campaign=out,
        ledger=book,
        burn_down=burn_down_chart(days),
        today=days[-1],
        decisions=decisions,
        decisions_total=decisions_total,
        revisits=revisits,
        revisits_total=revisits_total,
        inbox=items,
        inbox_total=items_total,
        inbox_unread=unread,
        plans=plans.list_plans(session, campaign_id=campaign_id),
    )
