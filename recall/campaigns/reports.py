"""Failure reports followed through the moment they arrive: a report on a unit that an
active recall already covers is linked to it at once and acknowledged to the reporting
partner (a notice through the outbox), and a report a partner sent lands in the support
lead's inbox.

``follow_up_reports`` is what the composition root hands the registry (``devices``
imports nothing of recall): ``api.app`` gives it to the failure and import routes, and the
CLI calls it after an import of failures. The hourly re-evaluation links whatever slipped
through any other path.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devices.models import FailureReport
from recall.campaigns.lifecycle import move_failure_report
from recall.inbox import service as inbox
from recall.models import Campaign, CampaignUnit

# Reports that are not yet part of anything.
UNLINKED = ("open", "triaged")


def follow_up_reports(
    session: Session, report_ids: list[int] | None, *, actor: str, from_partner: bool
) -> int:
    """Follow up new failure reports (``None``: every unlinked report, as after a file
    import): link those on units under an active recall, acknowledged to the partner, and
    put a partner's own reports in the lead's inbox. Returns how many were linked."""
    if from_partner and report_ids:
        inbox.failures_reported(session, report_ids=report_ids, actor=actor)
    return link_to_active_recalls(session, report_ids=report_ids, actor=actor)


def link_to_active_recalls(session: Session, *, report_ids: list[int] | None, actor: str) -> int:
    """Link each unlinked report whose unit an active campaign covers (the oldest such
    campaign, when several do)."""
    campaign_of = (
        select(func.min(CampaignUnit.campaign_id))
        .join(Campaign, Campaign.id == CampaignUnit.campaign_id)
        .where(CampaignUnit.unit_id == FailureReport.unit_id, Campaign.status == "active")
        .scalar_subquery()
    )
    stmt = (
        select(FailureReport, campaign_of)
        .where(FailureReport.status.in_(UNLINKED), campaign_of.is_not(None))
        .order_by(FailureReport.report_key)
        .with_for_update(of=FailureReport)
    )
    if report_ids is not None:
        stmt = stmt.where(FailureReport.id.in_(report_ids))
    rows = session.execute(stmt).all()
    campaigns = {
        c.id: c
        for c in session.scalars(select(Campaign).where(Campaign.id.in_({cid for _, cid in rows})))
    }
    for report, campaign_id in rows:
        campaign = campaigns[campaign_id]
        move_failure_report(
            session,
            report=report,
            to_state="linked_to_recall",
            actor=actor,
            note=f"covered by recall {campaign.id}: {campaign.title}",
            campaign_id=campaign.id,
        )
    return len(rows)
