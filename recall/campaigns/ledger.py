"""The recall ledger: where every unit stands, per campaign and per partner; what is still
open (revisits, the lead's decisions, visits scheduled but not told); who to call and
why; and whether each partner was told within 24 hours.

Nothing is shown that did not happen. "Told" means a notice was *delivered* (the outbox
row's ``delivered_at``), not merely queued: a partner whose messages sit undelivered or
dead is not reached, and a scheduled visit whose date no delivered notice carried is
"scheduled but not told" (``visit_request.told_at`` is None).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from core.settings import get_settings
from devices.models import Partner
from recall.campaigns.notices import topic
from recall.campaigns.repository import awaiting_decision
from recall.campaigns.schemas import FollowUp, LedgerOut, PartnerLine, Progress, StateCounts
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


def _per_partner(
    session: Session, stmt: Select, partner_id: int | None, column: Any
) -> dict[int, tuple[int, ...]]:
    """Counts grouped by partner (``column``), the first selected column being the id."""
    if partner_id is not None:
        stmt = stmt.where(column == partner_id)
    return {row[0]: tuple(row[1:]) for row in session.execute(stmt.group_by(column)).all()}


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
    max_visits = get_settings().recall_max_visits_per_unit
    in_campaign = CampaignUnit.campaign_id == campaign_id

    unit_rows = select(CampaignUnit.partner_id, CampaignUnit.state, func.count()).where(in_campaign)
    if partner_id is not None:
        unit_rows = unit_rows.where(CampaignUnit.partner_id == partner_id)
    states: dict[int, dict[str, int]] = {}
    for pid, state, n in session.execute(
        unit_rows.group_by(CampaignUnit.partner_id, CampaignUnit.state)
    ):
        states.setdefault(pid, {})[state] = int(n)

    not_told = and_(VisitRequest.status == "scheduled", VisitRequest.told_at.is_(None))
    untold_site = (
        select(VisitRequest.id)
        .where(
            VisitRequest.campaign_id == campaign_id,
            VisitRequest.site_id == CampaignUnit.site_id,
            not_told,
        )
        .exists()
    )
    unit_extra = _per_partner(
        session,
        select(
            CampaignUnit.partner_id,
            func.count(CampaignUnit.site_id.distinct()),
            func.count().filter(awaiting_decision(max_visits)),
            func.count().filter(CampaignUnit.state == "scheduled", untold_site),
        ).where(in_campaign),
        partner_id,
        CampaignUnit.partner_id,
    )
    visit_counts = _per_partner(
        session,
        select(
            VisitRequest.partner_id,
            func.count().filter(VisitRequest.status == "requested"),
            func.count().filter(VisitRequest.status == "scheduled"),
            func.count().filter(
                VisitRequest.status == "scheduled", VisitRequest.partner_confirmed_at.is_not(None)
            ),
            func.count().filter(VisitRequest.status == "done"),
            func.count().filter(
                VisitRequest.status.in_(("requested", "scheduled")), VisitRequest.attempt > 1
            ),
            func.count().filter(not_told),
        ).where(VisitRequest.campaign_id == campaign_id),
        partner_id,
        VisitRequest.partner_id,
    )
    partners = {
        p.id: p for p in session.scalars(select(Partner).where(Partner.id.in_(list(states))))
    }
    # Told about the recall: the first delivered notice on its topic, whatever its kind.
    first_told: dict[str, datetime | None] = {
        key: at
        for key, at in session.execute(
            select(OutboxMessage.partner_key, func.min(OutboxMessage.delivered_at))
            .where(
                OutboxMessage.topic == topic(campaign_id),
                OutboxMessage.delivered_at.is_not(None),
            )
            .group_by(OutboxMessage.partner_key)
        )
    }

    deadline = campaign.declared_at + PROMISE
    follow_up_after = campaign.declared_at + timedelta(days=follow_up_days)
    lines: list[PartnerLine] = []
    follow_up: list[FollowUp] = []
    for pid, partner in sorted(partners.items(), key=lambda item: item[1].partner_key):
        requested, scheduled, confirmed, done, revisits, untold = visit_counts.get(
            pid, (0, 0, 0, 0, 0, 0)
        )
        sites, decisions, units_untold = unit_extra.get(pid, (0, 0, 0))
        told_at = first_told.get(partner.partner_key)
        if told_at is not None:
            within: bool | None = told_at <= deadline
        else:
            within = False if now > deadline else None
        progress = Progress(
            revisits_pending=revisits,
            decisions_pending=decisions,
            visits_scheduled_not_told=untold,
            units_scheduled_not_told=units_untold,
        )
        reasons: list[tuple[str, str]] = []
        if now >= follow_up_after and told_at is None:
            reasons.append(
                ("not_reached", f"no notice delivered {follow_up_days} days after the declaration")
            )
        if untold:
            reasons.append(
                ("not_told", f"{untold} scheduled visit(s) whose date was not delivered")
            )
        if now >= follow_up_after and scheduled > confirmed:
            reasons.append(
                ("not_confirmed", f"{scheduled - confirmed} scheduled visit(s) not confirmed")
            )
        if decisions:
            reasons.append(
                (
                    "decision_pending",
                    f"{decisions} unit(s) refused or not reached in "
                    f"{max_visits} visits: agree a revisit or a waiver",
                )
            )
        follow_up += [
            FollowUp(
                partner_key=partner.partner_key,
                name=partner.name,
                contact_email=partner.contact_email,
                contact_phone=partner.contact_phone,
                reason=reason,
                detail=detail,
            )
            for reason, detail in reasons
        ]
        lines.append(
            PartnerLine(
                **progress.model_dump(),
                partner_key=partner.partner_key,
                name=partner.name,
                contact_email=partner.contact_email,
                contact_phone=partner.contact_phone,
                units=_counts(states[pid]),
                sites=int(sites),
                visits_requested=requested,
                visits_scheduled=scheduled,
                visits_confirmed=confirmed,
                visits_done=done,
                first_notified_at=told_at,
                notified_within_24h=within,
                promise="kept" if within else ("at_risk" if within is None else "broken"),
            )
        )
    totals: dict[str, int] = {}
    for by_state in states.values():
        for state, n in by_state.items():
            totals[state] = totals.get(state, 0) + n
    units = _counts(totals)
    return LedgerOut(
        revisits_pending=sum(line.revisits_pending for line in lines),
        decisions_pending=sum(line.decisions_pending for line in lines),
        visits_scheduled_not_told=sum(line.visits_scheduled_not_told for line in lines),
        units_scheduled_not_told=sum(line.units_scheduled_not_told for line in lines),
        campaign_id=campaign_id,
        status=campaign.status,
        declared_at=campaign.declared_at,
        as_of=now,
        complete=units.total > 0
        and sum(totals.get(s, 0) for s in FINAL_UNIT_STATES) == units.total,
        units=units,
        partners=lines,
        follow_up_days=follow_up_days,
        follow_up=follow_up,
        not_notified_within_24h=[line.partner_key for line in lines if line.promise == "broken"],
        promise_at_risk=[line.partner_key for line in lines if line.promise == "at_risk"],
    )
