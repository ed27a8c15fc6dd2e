"""What a campaign's page shows, gathered from recall's services: the campaign, its
ledger (per state, per partner, completion and fixed rate, the 24-hour promise, the
follow-up list with each partner's contact), its progress day by day as a burn-down
chart, the units that wait for a revisit or for the lead's decision, and its plans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import altair as alt
from sqlalchemy.orm import Session

from api.pages.widgets import PALETTE, vega_lite
from core.pagination import PageRequest
from devices import repository as registry
from devices.models import Partner
from recall.campaigns import ledger, progress
from recall.campaigns import repository as campaign_units
from recall.campaigns import service as campaigns
from recall.campaigns.progress import DayProgress
from recall.campaigns.schemas import CampaignOut, CampaignUnitOut, LedgerOut
from routing.plans import service as plans
from routing.plans.schemas import PlanOut

# Units the lead must look at again: reached, but not fixed.
AWAITING = ("unable_to_access", "not_found", "refused")
AWAITING_SHOWN = 200


@dataclass(frozen=True)
class CampaignPage:
    campaign: CampaignOut
    ledger: LedgerOut
    contacts: dict[str, Partner]
    burn_down: dict[str, Any]
    today: DayProgress
    awaiting: list[CampaignUnitOut]
    awaiting_total: int
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


def contacts_of(session: Session, partner_keys: list[str]) -> dict[str, Partner]:
    """Each partner's record (name, email, phone), for the follow-up list."""
    found = {}
    for key in partner_keys:
        partner = registry.get_partner(session, key, partner_id=None)
        if partner is not None:
            found[key] = partner
    return found


def campaign_page(session: Session, *, campaign_id: int, follow_up_days: int) -> CampaignPage:
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
    awaiting: list[CampaignUnitOut] = []
    awaiting_total = 0
    for state in AWAITING:
        units, total = campaign_units.list_units(
            session,
            campaign_id=campaign_id,
            partner_id=None,
            page=PageRequest(limit=AWAITING_SHOWN, offset=0),
            state=state,
        )
        awaiting += units
        awaiting_total += total
    return CampaignPage(
        campaign=out,
        ledger=book,
        contacts=contacts_of(session, sorted({f.partner_key for f in book.follow_up})),
        burn_down=burn_down_chart(days),
        today=days[-1],
        awaiting=awaiting[:AWAITING_SHOWN],
        awaiting_total=awaiting_total,
        plans=plans.list_plans(session, campaign_id=campaign_id),
    )
