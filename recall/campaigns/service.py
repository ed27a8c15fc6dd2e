"""Recall campaign use cases: dry run, declaration, re-evaluation, the support lead's
moves of a unit, closing, reads.

A declaration snapshots the affected units, opens one visit request per affected site,
links the open failure reports of those units (each reporter told), closes the detection
signal it answers, and writes each affected partner's notice to the outbox, all in one
transaction. A campaign is complete when every unit is fixed or waived; the lead then
closes it, and it is no longer planned, re-evaluated or an active recall for detection.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound
from core.events import record_event
from core.idempotency import idempotent
from devices.models import Unit
from recall.campaigns import notices
from recall.campaigns import repository as repo
from recall.campaigns.lifecycle import get_campaign_unit, move_unit, unit_entity_key
from recall.campaigns.reports import link_to_active_recalls
from recall.campaigns.schemas import (
    CampaignIn,
    CampaignOut,
    CampaignUnitOut,
    DryRunOut,
    ReevaluationOut,
    Scope,
    SiteCount,
    UnitEventOut,
)
from recall.campaigns.visits import cancel_open_visits, sync_visits
from recall.detection.service import change_signal_status
from recall.models import FINAL_UNIT_STATES, Campaign, CampaignUnit

DRY_RUN_SERIALS_MAX = 10_000


def _validated_scope(session: Session, scope: Scope) -> None:
    missing = repo.unknown_keys(session, scope)
    if missing:
        raise InvalidInput(f"the scope names what the registry does not know: {', '.join(missing)}")


def dry_run(session: Session, *, spec: CampaignIn) -> DryRunOut:
    """What declaring ``spec`` would cover; writes nothing."""
    _validated_scope(session, spec.scope)
    serials = list(
        session.scalars(
            select(repo.scoped_units(spec.scope).subquery().c.serial).limit(DRY_RUN_SERIALS_MAX + 1)
        )
    )
    counts = repo.site_counts(session, spec.scope)
    per_site = [
        SiteCount(
            site_key=site_key,
            partner_key=partner_key,
            units=units,
            estimated_minutes=spec.minutes_per_visit + spec.minutes_per_unit * units,
        )
        for site_key, partner_key, units in counts
    ]
    return DryRunOut(
        units=sum(c.units for c in per_site),
        sites=len(per_site),
        partners=len({c.partner_key for c in per_site}),
        serials=serials[:DRY_RUN_SERIALS_MAX],
        serials_truncated=len(serials) > DRY_RUN_SERIALS_MAX,
        site_counts=per_site,
        partner_keys=sorted({c.partner_key for c in per_site}),
        estimated_minutes=sum(c.estimated_minutes for c in per_site),
    )


def declare_once(
    session: Session, *, spec: CampaignIn, actor: str, tenant: str, key: str | None
) -> tuple[int, Any]:
    """Declare a recall under an idempotency key (core.idempotency): the status code and
    the campaign's JSON, the first answer again for a repeated key."""
    return idempotent(
        session,
        tenant=tenant,
        key=key,
        operation="declare recall",
        payload=spec.model_dump(mode="json"),
        status_code=201,
        run=lambda: campaign_out(
            session,
            declare(session, spec=spec, actor=actor, idempotency_key=key),
            partner_id=None,
        ),
    )


def declare(
    session: Session,
    *,
    spec: CampaignIn,
    actor: str,
    idempotency_key: str | None = None,
    today: date | None = None,
) -> Campaign:
    """Declare a recall. The same idempotency key again returns the first campaign."""
    if idempotency_key:
        existing = session.scalar(
            select(Campaign).where(Campaign.idempotency_key == idempotency_key)
        )
        if existing is not None:
            return existing
    _validated_scope(session, spec.scope)
    region = spec.scope.region_geometry()
    campaign = Campaign(
        title=spec.title,
        scope=spec.scope.model_dump(mode="json"),
        region=f"SRID=4326;{region.wkt}" if region is not None else None,
        remedy=spec.remedy,
        minutes_per_unit=spec.minutes_per_unit,
        minutes_per_visit=spec.minutes_per_visit,
        required_skill=spec.required_skill,
        deadline=spec.deadline,
        priority_rule=spec.priority_rule,
        signal_id=spec.signal_id,
        idempotency_key=idempotency_key,
        declared_by=actor,
    )
    session.add(campaign)
    session.flush()
    added = repo.insert_campaign_units(
        session, campaign_id=campaign.id, scope=spec.scope, added_by="declaration"
    )
    if not added:
        raise InvalidInput("the scope matches no unit; nothing to recall")
    repo.record_unit_events(
        session, campaign_unit_ids=added, actor=actor, action="entered", reason="declaration"
    )
    repo.refresh_visit_requests(session, campaign, today=today or datetime.now(UTC).date())
    record_event(
        session,
        actor=actor,
        entity="recall_campaign",
        entity_key=str(campaign.id),
        action="declared",
        to_state="active",
        data={"units": len(added), "scope": campaign.scope},
    )
    if spec.signal_id is not None:
        change_signal_status(
            session,
            signal_id=spec.signal_id,
            status="recall_declared",
            actor=actor,
            reason=f"recall {campaign.id} declared",
        )
    notices.recall_declared(session, campaign=campaign)
    # After the recall's own notice, so that a reporter hears of the recall first.
    link_to_active_recalls(session, report_ids=None, actor=actor)
    session.flush()
    return campaign


def reevaluate(
    session: Session, *, campaign_id: int, actor: str, today: date | None = None
) -> ReevaluationOut:
    """Add the units that entered the scope since the last evaluation (new installs, late
    imports); report, but keep, units the scope no longer matches."""
    campaign = get_campaign(session, campaign_id=campaign_id, partner_id=None, lock=True)
    if campaign.status != "active":
        raise Conflict(f"campaign {campaign_id} is {campaign.status}; it is not re-evaluated")
    scope = Scope.model_validate(campaign.scope)
    added = repo.insert_campaign_units(
        session, campaign_id=campaign.id, scope=scope, added_by="reevaluation"
    )
    repo.record_unit_events(
        session, campaign_unit_ids=added, actor=actor, action="entered", reason="re-evaluation"
    )
    visits = sync_visits(session, campaign=campaign, actor=actor, today=today)
    matching = repo.scoped_units(scope).order_by(None).subquery()
    gone = session.scalars(
        select(Unit.serial)
        .join(CampaignUnit, CampaignUnit.unit_id == Unit.id)
        .where(
            CampaignUnit.campaign_id == campaign.id,
            CampaignUnit.unit_id.not_in(select(matching.c.unit_id)),
        )
        .order_by(Unit.serial)
    ).all()
    added_serials = list(
        session.scalars(
            select(Unit.serial)
            .join(CampaignUnit, CampaignUnit.unit_id == Unit.id)
            .where(CampaignUnit.id.in_(added))
            .order_by(Unit.serial)
        )
    )
    campaign.last_evaluated_at = datetime.now(UTC)
    # Also a safety net for reports that reached the registry by a path that did not
    # link them at once.
    link_to_active_recalls(session, report_ids=None, actor=actor)
    if added:
        notices.units_added(session, campaign=campaign, campaign_unit_ids=added)
    new_sites = [key for key, attempt in visits.created.items() if attempt == 1]
    revisits = [key for key, attempt in visits.created.items() if attempt > 1]
    record_event(
        session,
        actor=actor,
        entity="recall_campaign",
        entity_key=str(campaign.id),
        action="reevaluated",
        data={
            "added": len(added),
            "new_sites": new_sites,
            "revisits": revisits,
            "no_longer_matching": list(gone),
        },
    )
    session.flush()
    return ReevaluationOut(
        added_serials=added_serials,
        new_sites=new_sites,
        revisit_sites=revisits,
        no_longer_matching=list(gone),
    )


def reevaluate_active(session: Session, *, actor: str) -> dict[int, ReevaluationOut]:
    """Re-evaluate every active campaign (the worker does this periodically, so late
    imports and new installs join their recall without anyone asking)."""
    ids = session.scalars(
        select(Campaign.id).where(Campaign.status == "active").order_by(Campaign.id)
    ).all()
    return {cid: reevaluate(session, campaign_id=cid, actor=actor) for cid in ids}


def change_unit_state(
    session: Session,
    *,
    campaign_id: int,
    serial: str,
    to_state: str,
    reason: str | None,
    actor: str,
) -> CampaignUnitOut:
    """The support lead moves a unit: typically the decision on a refused unit (re-open it
    for a revisit, or waive it with a reason) or waiving a decommissioned or replaced
    unit. The visit requests follow (a revisit opened, a needless visit cancelled)."""
    campaign = get_campaign(session, campaign_id=campaign_id, partner_id=None)
    campaign_unit, serial = get_campaign_unit(
        session, campaign_id=campaign_id, serial=serial, partner_id=None
    )
    moved = move_unit(
        session,
        campaign=campaign,
        campaign_unit=campaign_unit,
        serial=serial,
        to_state=to_state,
        actor=actor,
        reason=reason,
    )
    if moved:
        sync_visits(session, campaign=campaign, actor=actor, site_ids=[campaign_unit.site_id])
    return unit_with_history(session, campaign_id=campaign_id, serial=serial, partner_id=None)


def close_campaign(
    session: Session, *, campaign_id: int, actor: str, note: str | None = None
) -> Campaign:
    """Close a complete campaign (every unit fixed or waived): open visits are cancelled
    and each partner is told how the recall ended for its units. Closing a closed
    campaign again changes nothing; an incomplete one is a 409 naming what is left."""
    campaign = get_campaign(session, campaign_id=campaign_id, partner_id=None, lock=True)
    if campaign.status == "closed":
        return campaign
    left = session.execute(
        select(CampaignUnit.state, func.count())
        .where(
            CampaignUnit.campaign_id == campaign.id,
            CampaignUnit.state.not_in(FINAL_UNIT_STATES),
        )
        .group_by(CampaignUnit.state)
        .order_by(CampaignUnit.state)
    ).all()
    if left:
        what = ", ".join(f"{n} {state}" for state, n in left)
        raise Conflict(
            f"campaign {campaign_id} is not complete ({what}); every unit must be fixed or "
            "waived before it is closed"
        )
    cancel_open_visits(session, campaign=campaign, actor=actor)
    campaign.status, campaign.closed_at = "closed", datetime.now(UTC)
    campaign.closed_by, campaign.close_note = actor, note
    record_event(
        session,
        actor=actor,
        entity="recall_campaign",
        entity_key=str(campaign.id),
        action="closed",
        from_state="active",
        to_state="closed",
        reason=note,
    )
    notices.recall_closed(session, campaign=campaign)
    session.flush()
    return campaign


def get_campaign(
    session: Session, *, campaign_id: int, partner_id: int | None, lock: bool = False
) -> Campaign:
    """A campaign; for a partner, only one that covers some of its units (404 otherwise)."""
    stmt = select(Campaign).where(Campaign.id == campaign_id)
    if partner_id is not None:
        stmt = stmt.where(
            select(CampaignUnit.id)
            .where(CampaignUnit.campaign_id == Campaign.id, CampaignUnit.partner_id == partner_id)
            .exists()
        )
    if lock:
        stmt = stmt.with_for_update()
    campaign = session.scalar(stmt)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    return campaign


def campaign_out(session: Session, campaign: Campaign, *, partner_id: int | None) -> CampaignOut:
    """The campaign with unit, site and partner counts (a partner's own only)."""
    stmt = select(
        func.count(),
        func.count(CampaignUnit.site_id.distinct()),
        func.count(CampaignUnit.partner_id.distinct()),
    ).where(CampaignUnit.campaign_id == campaign.id)
    if partner_id is not None:
        stmt = stmt.where(CampaignUnit.partner_id == partner_id)
    units, sites, partners = session.execute(stmt).one()
    fields: dict[str, Any] = {
        name: getattr(campaign, name)
        for name in CampaignOut.model_fields
        if name not in ("unit_count", "site_count", "partner_count")
    }
    return CampaignOut(**fields, unit_count=units, site_count=sites, partner_count=partners)


def list_campaigns(
    session: Session, *, partner_id: int | None, status: str | None = None
) -> list[Campaign]:
    stmt = select(Campaign).order_by(Campaign.id.desc())
    if status is not None:
        stmt = stmt.where(Campaign.status == status)
    if partner_id is not None:
        stmt = stmt.where(
            select(CampaignUnit.id)
            .where(CampaignUnit.campaign_id == Campaign.id, CampaignUnit.partner_id == partner_id)
            .exists()
        )
    return list(session.scalars(stmt))


def unit_with_history(
    session: Session, *, campaign_id: int, serial: str, partner_id: int | None
) -> CampaignUnitOut:
    """One unit's state and every event of its life in the campaign, oldest first."""
    get_campaign_unit(
        session, campaign_id=campaign_id, serial=serial, partner_id=partner_id, lock=False
    )
    row = session.execute(repo.unit_rows(campaign_id).where(Unit.serial == serial)).one()
    events = repo.unit_events(session, entity_key=unit_entity_key(campaign_id, serial))
    history = [UnitEventOut.model_validate(e, from_attributes=True) for e in events]
    return CampaignUnitOut(**row._mapping, history=history)
