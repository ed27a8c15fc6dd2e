"""What a campaign's page shows, gathered from recall's services: the campaign, its
ledger (per state, per partner, completion and fixed rate, what is still open, the
24-hour promise, the follow-up list with each partner's contact), its progress day by
day as a burn-down chart, the units that wait for a revisit or for the lead's decision,
the inbox of the partners' actions on it, and its plans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import altair as alt
from sqlalchemy.orm import Session

from api.pages.widgets import PALETTE, vega_lite
from core.pagination import PageRequest
from core.settings import get_settings
from recall.campaigns import ledger, progress, visits
from recall.campaigns import repository as campaign_units
from recall.campaigns import service as campaigns
from recall.campaigns.progress import DayProgress
from recall.campaigns.schemas import CampaignOut, CampaignUnitOut, LedgerOut, VisitOut
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


OPEN, FIXED, PLANNED = "still open", "fixed", "still open if the plan holds"


def planned_burn_down(today: DayProgress, scheduled: list[VisitOut]) -> list[tuple[date, int]]:
    """What the published plan promises from today on: the units still open at the end
    of each day, if every scheduled visit fixes its units on its day (visits scheduled
    before today and not done yet count today)."""
    per_day: dict[date, int] = {}
    for v in scheduled:
        if v.status == "scheduled" and v.scheduled_date is not None:
            day = max(v.scheduled_date, today.day)
            per_day[day] = per_day.get(day, 0) + v.unit_count
    left, out = today.open, [(today.day, today.open)]
    for day in sorted(per_day):
        left = max(0, left - per_day[day])
        out.append((day, left))
    return out if len(out) > 1 else []


def burn_down_chart(days: list[DayProgress], planned: list[tuple[date, int]]) -> dict[str, Any]:
    """Units still open (not in a final state) per day, and units fixed, from the
    declaration to today; then, dashed, what the published plan promises."""
    rows = [
        {"day": d.day.isoformat(), "what": what, "units": n}
        for d in days
        for what, n in ((OPEN, d.open), (FIXED, d.fixed))
    ] + [{"day": day.isoformat(), "what": PLANNED, "units": n} for day, n in planned]
    chart = (
        alt.Chart(alt.Data(name="days"), height=220)
        .mark_line(point=True, interpolate="step-after")
        .encode(
            x=alt.X(
                "day:T",
                title="Day (UTC)",
                axis=alt.Axis(
                    format="%d %b",
                    labelAngle=-45,
                    labelOverlap="greedy",
                    tickCount={"interval": "day", "step": 1},
                ),
            ),
            y=alt.Y("units:Q", title="Units", axis=alt.Axis(tickMinStep=1)),
            color=alt.Color(
                "what:N",
                title=None,
                scale=alt.Scale(
                    domain=[OPEN, FIXED, PLANNED], range=[PALETTE[1], PALETTE[2], PALETTE[0]]
                ),
                legend=alt.Legend(orient="top", columns=2),  # one row overflows a phone
            ),
            strokeDash=alt.StrokeDash(
                "what:N",
                scale=alt.Scale(domain=[OPEN, FIXED, PLANNED], range=[[1, 0], [1, 0], [6, 4]]),
                legend=None,
            ),
            tooltip=[
                alt.Tooltip("day:T", title="Day", format="%d %b %Y"),
                alt.Tooltip("what:N", title="Units"),
                alt.Tooltip("units:Q", title="Count"),
            ],
        )
    )
    return vega_lite(chart, {"days": rows})


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
    scheduled = visits.list_visits(
        session, campaign_id=campaign_id, partner_id=None, status="scheduled"
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
        burn_down=burn_down_chart(days, planned_burn_down(days[-1], scheduled)),
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
