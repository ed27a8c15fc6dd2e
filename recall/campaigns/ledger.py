"""The recall ledger: where every unit stands, per campaign and per partner; who has not
been reached or has not confirmed; and whether each partner was told within 24 hours.

"Notified" means a notice about the recall was delivered (the outbox row's
``delivered_at``), not merely queued: a partner whose messages sit undelivered or dead is
not reached, and the ledger says so.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devices.models import Partner
from recall.campaigns.notices import AFFECTED_KINDS, topic
from recall.campaigns.schemas import FollowUp, LedgerOut, PartnerLine, StateCounts
from recall.models import FINAL_UNIT_STATES, Campaign, CampaignUnit, OutboxMessage, VisitRequest

PROMISE = timedelta(hours=24)


def _counts(by_state: dict[str, int]) -> StateCounts:
    total = sum(by_state.values())
    final = sum(by_state.get(s, 0) for s in FINAL_UNIT_STATES)
    return StateCounts(
        **by_state,
        total=total,
        completion_rate=final / total if total else 0.0,
        fixed_rate=by_state.get("fixed", 0) / total if total else 0.0,
    )


def campaign_ledger(
    session: Session,
    *,
    campaign_id: int,
    partner_id: int | None,
    follow_up_days: int = 3,
    now: datetime | None = None,
) -> LedgerOut:
    """The ledger of one campaign; ``partner_id`` narrows it to that partner's line."""
    now = now or datetime.now(UTC)
    campaign = session.get_one(Campaign, campaign_id)

    unit_rows = select(CampaignUnit.partner_id, CampaignUnit.state, func.count()).where(
        CampaignUnit.campaign_id == campaign_id
    )
    site_rows = select(CampaignUnit.partner_id, func.count(CampaignUnit.site_id.distinct())).where(
        CampaignUnit.campaign_id == campaign_id
    )
    visit_rows = select(
        VisitRequest.partner_id,
        func.count().filter(VisitRequest.status == "requested"),
        func.count().filter(VisitRequest.status == "scheduled"),
        func.count().filter(
            VisitRequest.status == "scheduled", VisitRequest.partner_confirmed_at.is_not(None)
        ),
        func.count().filter(VisitRequest.status == "done"),
    ).where(VisitRequest.campaign_id == campaign_id)
    if partner_id is not None:
        unit_rows = unit_rows.where(CampaignUnit.partner_id == partner_id)
        site_rows = site_rows.where(CampaignUnit.partner_id == partner_id)
        visit_rows = visit_rows.where(VisitRequest.partner_id == partner_id)

    states: dict[int, dict[str, int]] = {}
    for pid, state, n in session.execute(
        unit_rows.group_by(CampaignUnit.partner_id, CampaignUnit.state)
    ):
        states.setdefault(pid, {})[state] = int(n)
    sites = dict(session.execute(site_rows.group_by(CampaignUnit.partner_id)).all())
    visit_counts = {
        row[0]: row[1:]
        for row in session.execute(visit_rows.group_by(VisitRequest.partner_id)).all()
    }
    partners = {
        p.id: p for p in session.scalars(select(Partner).where(Partner.id.in_(list(states))))
    }
    first_notified: dict[str, datetime | None] = {
        key: at
        for key, at in session.execute(
            select(OutboxMessage.partner_key, func.min(OutboxMessage.delivered_at))
            .where(
                OutboxMessage.topic == topic(campaign_id),
                OutboxMessage.kind.in_(AFFECTED_KINDS),
                OutboxMessage.delivered_at.is_not(None),
            )
            .group_by(OutboxMessage.partner_key)
        )
    }

    deadline = campaign.declared_at + PROMISE
    follow_up_after = campaign.declared_at + timedelta(days=follow_up_days)
    lines: list[PartnerLine] = []
    follow_up: list[FollowUp] = []
    late: list[str] = []
    for pid, partner in sorted(partners.items(), key=lambda item: item[1].partner_key):
        requested, scheduled, confirmed, done = visit_counts.get(pid, (0, 0, 0, 0))
        notified_at = first_notified.get(partner.partner_key)
        if notified_at is not None:
            within: bool | None = notified_at <= deadline
        else:
            within = False if now > deadline else None
        if within is False:
            late.append(partner.partner_key)
        if now >= follow_up_after:
            if notified_at is None:
                follow_up.append(
                    FollowUp(
                        partner_key=partner.partner_key,
                        reason="not_reached",
                        detail=f"no notice delivered {follow_up_days} days after the declaration",
                    )
                )
            if scheduled > confirmed:
                follow_up.append(
                    FollowUp(
                        partner_key=partner.partner_key,
                        reason="not_confirmed",
                        detail=f"{scheduled - confirmed} scheduled visit(s) not confirmed",
                    )
                )
        lines.append(
            PartnerLine(
                partner_key=partner.partner_key,
                name=partner.name,
                units=_counts(states[pid]),
                sites=int(sites.get(pid, 0)),
                visits_requested=requested,
                visits_scheduled=scheduled,
                visits_confirmed=confirmed,
                visits_done=done,
                first_notified_at=notified_at,
                notified_within_24h=within,
            )
        )
    totals: dict[str, int] = {}
    for by_state in states.values():
        for state, n in by_state.items():
            totals[state] = totals.get(state, 0) + n
    return LedgerOut(
        campaign_id=campaign_id,
        declared_at=campaign.declared_at,
        as_of=now,
        units=_counts(totals),
        partners=lines,
        follow_up_days=follow_up_days,
        follow_up=follow_up,
        not_notified_within_24h=late,
    )
