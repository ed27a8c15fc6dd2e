"""Applying a published field plan to the recall: visits become scheduled, units follow,
and partners hear about what changed for them, all in the caller's transaction.

- a visit new to the plan: scheduled with date, arrival window and technician; its units
  move affected -> notified -> scheduled; the partner gets the date and window;
- a visit whose date or window changed (MOVED): the new date and window, a notice, and
  the partner's earlier confirmation no longer holds;
- a visit whose date and window did not change: nothing the partner sees (a new
  technician is recorded silently);
- a scheduled visit the plan no longer serves (and no technician is at): back to
  requested, units scheduled -> notified, and a notice that a new date will follow.
A visit counts as told its date only once a notice with that date is delivered
(``told_at``); until then the ledger shows it as scheduled but not told.
Each notice's idempotency key names the plan version and the visit, so publishing
twice never tells a partner twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.events import record_event
from recall.campaigns import visit_notices
from recall.campaigns.lifecycle import move_units
from recall.campaigns.visits import unschedule
from recall.models import Campaign, CampaignUnit, VisitRequest


@dataclass(frozen=True)
class ScheduledVisit:
    """A visit as the plan serves it."""

    visit_id: int
    day: date
    window_start: datetime
    window_end: datetime
    technician_id: int


@dataclass
class PublishSummary:
    new: list[int] = field(default_factory=list)
    moved: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    # Visits in the plan that were finished or cancelled meanwhile: left as they are.
    skipped: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[int]]:
        return {
            "new": self.new,
            "moved": self.moved,
            "unchanged": self.unchanged,
            "dropped": self.dropped,
            "skipped": self.skipped,
        }


def _unit_states(session: Session, campaign_id: int) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    for site_id, state, n in session.execute(
        select(CampaignUnit.site_id, CampaignUnit.state, func.count())
        .where(CampaignUnit.campaign_id == campaign_id)
        .group_by(CampaignUnit.site_id, CampaignUnit.state)
    ):
        out.setdefault(site_id, {})[state] = int(n)
    return out


def apply_published_plan(
    session: Session,
    *,
    campaign_id: int,
    plan_key: str,
    visits: list[ScheduledVisit],
    actor: str,
) -> PublishSummary:
    """Make the recall's visits match the plan identified by ``plan_key`` (e.g.
    ``plan:12:v3``), with the notices that implies."""
    campaign = session.get_one(Campaign, campaign_id)
    rows = {
        v.id: v
        for v in session.scalars(
            select(VisitRequest)
            .where(VisitRequest.campaign_id == campaign_id)
            .order_by(VisitRequest.id)
            .with_for_update()
        )
    }
    states = _unit_states(session, campaign_id)
    summary = PublishSummary()
    now = datetime.now(UTC)
    planned = {sv.visit_id for sv in visits}
    for sv in sorted(visits, key=lambda s: s.visit_id):
        visit = rows.get(sv.visit_id)
        if visit is None or visit.status not in ("requested", "scheduled"):
            summary.skipped.append(sv.visit_id)
            continue
        was_scheduled = visit.status == "scheduled"
        moved = was_scheduled and (
            visit.scheduled_date != sv.day
            or visit.window_start != sv.window_start
            or visit.window_end != sv.window_end
        )
        if was_scheduled and not moved:
            visit.technician_id = sv.technician_id
            summary.unchanged.append(visit.id)
            continue
        before = visit.scheduled_date
        visit.status = "scheduled"
        visit.scheduled_date = sv.day
        visit.window_start, visit.window_end = sv.window_start, sv.window_end
        visit.technician_id = sv.technician_id
        visit.updated_at = now
        # Not told until a notice with this date is delivered (recall.campaigns.delivered).
        visit.told_at = None
        if moved:
            visit.partner_confirmed_at = None  # the partner confirmed another date
        session.flush()
        for from_state, to_state in (("affected", "notified"), ("notified", "scheduled")):
            move_units(
                session,
                campaign=campaign,
                site_id=visit.site_id,
                partner_id=None,
                from_states=(from_state,),
                to_state=to_state,
                actor=actor,
                reason=f"visit planned for {sv.day} ({plan_key})",
            )
        record_event(
            session,
            actor=actor,
            entity="visit_request",
            entity_key=str(visit.id),
            action="moved" if moved else "scheduled",
            from_state="scheduled" if was_scheduled else "requested",
            to_state="scheduled",
            reason=plan_key,
            data={
                "from_date": before.isoformat() if before else None,
                "scheduled_date": sv.day.isoformat(),
                "window_start": sv.window_start.isoformat(),
                "window_end": sv.window_end.isoformat(),
                "technician_id": sv.technician_id,
            },
        )
        visit_notices.visit_scheduled(
            session, campaign=campaign, visit=visit, plan_key=plan_key, moved=moved
        )
        (summary.moved if moved else summary.new).append(visit.id)
    for visit in rows.values():
        if visit.status != "scheduled" or visit.id in planned:
            continue
        if states.get(visit.site_id, {}).get("in_progress"):
            continue  # being worked on: the technician workflow closes it
        was = visit.scheduled_date.isoformat() if visit.scheduled_date else "an earlier date"
        unschedule(
            session,
            campaign=campaign,
            visit=visit,
            actor=actor,
            reason=f"the visit is not in the published plan ({plan_key})",
        )
        record_event(
            session,
            actor=actor,
            entity="visit_request",
            entity_key=str(visit.id),
            action="unscheduled",
            from_state="scheduled",
            to_state="requested",
            reason=plan_key,
        )
        visit_notices.visit_unscheduled(
            session, campaign=campaign, visit=visit, plan_key=plan_key, was=was
        )
        summary.dropped.append(visit.id)
    session.flush()
    return summary
