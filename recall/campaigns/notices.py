"""What partners are told, and when. Each notice is written to the outbox in the same
transaction as the change that causes it, with an idempotency key derived from that
change, so a retried request never tells a partner twice.

Texts say plainly what is known, what it means for the partner's sites and what happens
next: partners value being told early and honestly. This module tells partners about the
recall and their failure reports; ``visit_notices`` about their visits.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devices.models import FailureReport, Partner, Site, Unit
from recall.models import Campaign, CampaignUnit
from recall.notify.outbox import notify_partner

# Kinds whose delivery means the partner now knows its units are affected.
AFFECTED_KINDS = ("recall_declared", "units_added")
# Kinds that carry a visit's date and arrival window: delivered, the partner knows it.
VISIT_DATE_KINDS = ("visit_scheduled", "visit_moved")


def topic(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"


def _sites_by_partner(
    session: Session, campaign: Campaign, campaign_unit_ids: list[int] | None = None
) -> dict[str, list[tuple[str, str, int]]]:
    stmt = (
        select(Partner.partner_key, Site.site_key, Site.name, func.count())
        .select_from(CampaignUnit)
        .join(Site, Site.id == CampaignUnit.site_id)
        .join(Partner, Partner.id == CampaignUnit.partner_id)
        .where(CampaignUnit.campaign_id == campaign.id)
        .group_by(Partner.partner_key, Site.site_key, Site.name)
        .order_by(Partner.partner_key, Site.site_key)
    )
    if campaign_unit_ids is not None:
        stmt = stmt.where(CampaignUnit.id.in_(campaign_unit_ids))
    out: dict[str, list[tuple[str, str, int]]] = {}
    for partner_key, site_key, name, units in session.execute(stmt):
        out.setdefault(partner_key, []).append((site_key, name, int(units)))
    return out


def _site_lines(sites: list[tuple[str, str, int]]) -> str:
    return "\n".join(f"  - {name} ({key}): {n} unit{'s' * (n != 1)}" for key, name, n in sites)


def recall_declared(session: Session, *, campaign: Campaign) -> None:
    """Tell every affected partner, right at declaration."""
    for partner_key, sites in _sites_by_partner(session, campaign).items():
        units = sum(n for _, _, n in sites)
        body = (
            f"We have declared a recall: {campaign.title}.\n\n"
            f"{units} unit{'s' * (units != 1)} at {len(sites)} of your sites "
            f"{'are' if units != 1 else 'is'} affected:\n{_site_lines(sites)}\n\n"
            f"What we will do: {campaign.remedy}\n"
            "A technician will visit each site. We will propose a date and an arrival window "
            "for each visit as soon as the route is planned; you can confirm it or ask for "
            "another date. Units that have not failed yet are affected too, so please keep "
            "them accessible.\n"
        )
        if campaign.deadline:
            body += f"We aim to finish every visit by {campaign.deadline.isoformat()}.\n"
        notify_partner(
            session,
            partner_key=partner_key,
            kind="recall_declared",
            subject=f"Recall: {campaign.title} ({units} of your units)",
            body=body,
            data={
                "campaign_id": campaign.id,
                "units": units,
                "sites": [{"site_key": k, "units": n} for k, _, n in sites],
            },
            idempotency_key=f"campaign:{campaign.id}:declared:{partner_key}",
            topic=topic(campaign.id),
        )


def units_added(session: Session, *, campaign: Campaign, campaign_unit_ids: list[int]) -> None:
    """Tell partners about units that joined the recall after its declaration."""
    digest = hashlib.sha256(",".join(map(str, sorted(campaign_unit_ids))).encode()).hexdigest()
    for partner_key, sites in _sites_by_partner(session, campaign, campaign_unit_ids).items():
        units = sum(n for _, _, n in sites)
        notify_partner(
            session,
            partner_key=partner_key,
            kind="units_added",
            subject=f"Recall {campaign.title}: {units} more of your units are affected",
            body=(
                f"Since we declared the recall {campaign.title}, {units} more of your units "
                f"were found to be affected:\n{_site_lines(sites)}\n\n"
                f"What we will do: {campaign.remedy}\n"
            ),
            data={
                "campaign_id": campaign.id,
                "units": units,
                "sites": [{"site_key": k, "units": n} for k, _, n in sites],
            },
            idempotency_key=f"campaign:{campaign.id}:added:{partner_key}:{digest[:16]}",
            topic=topic(campaign.id),
        )


def failure_resolved(session: Session, *, report: FailureReport) -> None:
    """A report is never marked solved without its partner being told how."""
    partner_key, serial = session.execute(
        select(Partner.partner_key, Unit.serial)
        .join(Site, Site.partner_id == Partner.id)
        .join(Unit, Unit.site_id == Site.id)
        .where(Unit.id == report.unit_id)
    ).one()
    notify_partner(
        session,
        partner_key=partner_key,
        kind="failure_resolved",
        subject=f"Your failure report {report.report_key} (unit {serial}) is resolved",
        body=(
            f"Your report {report.report_key} about unit {serial} is resolved.\n\n"
            f"{report.resolution_note}\n"
        ),
        data={"report_key": report.report_key, "serial": serial},
        # By id: report keys are unique per reporter, not across reporters.
        idempotency_key=f"failure:{report.id}:resolved",
    )


def failure_linked(session: Session, *, report: FailureReport, campaign: Campaign) -> None:
    """A report on a unit already under recall: the reporter hears at once that it is
    covered, and what happens next."""
    partner_key, serial, site_name = session.execute(
        select(Partner.partner_key, Unit.serial, Site.name)
        .join(Site, Site.partner_id == Partner.id)
        .join(Unit, Unit.site_id == Site.id)
        .where(Unit.id == report.unit_id)
    ).one()
    notify_partner(
        session,
        partner_key=partner_key,
        kind="failure_linked",
        subject=f"Your failure report {report.report_key} (unit {serial}) is part of a recall",
        body=(
            f"Thank you for your report {report.report_key} about unit {serial} at "
            f"{site_name}.\n\n"
            f"The unit is covered by our recall {campaign.title}. What we will do: "
            f"{campaign.remedy}\n"
            "A technician will fix it during the recall's visit to the site; we send you "
            "the date and arrival window as soon as the visit is planned. We will tell you "
            "when the report is resolved.\n"
        ),
        data={"report_key": report.report_key, "serial": serial, "campaign_id": campaign.id},
        idempotency_key=f"failure:{report.id}:linked:{campaign.id}",
        topic=topic(campaign.id),
    )


def recall_closed(session: Session, *, campaign: Campaign) -> None:
    """The recall is over: each partner hears how it ended for its units."""
    rows = session.execute(
        select(Partner.partner_key, CampaignUnit.state, func.count())
        .join(Partner, Partner.id == CampaignUnit.partner_id)
        .where(CampaignUnit.campaign_id == campaign.id)
        .group_by(Partner.partner_key, CampaignUnit.state)
        .order_by(Partner.partner_key)
    ).all()
    counts: dict[str, dict[str, int]] = {}
    for partner_key, state, n in rows:
        counts.setdefault(partner_key, {})[state] = int(n)
    for partner_key, states in counts.items():
        fixed, waived = states.get("fixed", 0), states.get("waived", 0)
        notify_partner(
            session,
            partner_key=partner_key,
            kind="recall_closed",
            subject=f"Recall {campaign.title} is closed",
            body=(
                f"The recall {campaign.title} is closed. Of your {fixed + waived} affected "
                f"units, {fixed} {'were' if fixed != 1 else 'was'} fixed and {waived} needed "
                "no fix (decommissioned, replaced, or declined after we spoke with you).\n"
                "Thank you for your help.\n"
            ),
            data={"campaign_id": campaign.id, "fixed": fixed, "waived": waived},
            idempotency_key=f"campaign:{campaign.id}:closed:{partner_key}",
            topic=topic(campaign.id),
        )
