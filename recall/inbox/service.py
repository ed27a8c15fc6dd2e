"""The support lead's inbox: partner actions are recorded as they happen (in the action's
transaction), then listed, filtered and marked read or unread.

Writers call the one helper per kind; every item names its partner and, when there is
one, the campaign, the visit, the unit and the failure report, so a page can link to
them. Only partners' own actions are recorded: a lead confirming on a partner's behalf
is not news to the lead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.pagination import PageRequest, paginate
from devices.models import FailureReport, Partner, Site, Unit
from recall.inbox.models import InboxItem
from recall.inbox.schemas import InboxItemOut, InboxSummaryOut
from recall.models import Campaign, VisitRequest


def record(
    session: Session,
    *,
    kind: str,
    partner_id: int,
    summary: str,
    actor: str,
    campaign_id: int | None = None,
    visit_id: int | None = None,
    unit_id: int | None = None,
    failure_report_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> int | None:
    """Add one unread item and return its id; a failure report already in the inbox is
    not added again (None)."""
    return session.scalar(
        insert(InboxItem)
        .values(
            kind=kind,
            partner_id=partner_id,
            campaign_id=campaign_id,
            visit_id=visit_id,
            unit_id=unit_id,
            failure_report_id=failure_report_id,
            summary=summary,
            actor=actor,
            data=to_jsonable_python(data or {}),
        )
        .on_conflict_do_nothing(
            index_elements=["failure_report_id"],
            index_where=InboxItem.failure_report_id.is_not(None),
        )
        .returning(InboxItem.id)
    )


def _about_visit(
    session: Session, visit: VisitRequest, *, kind: str, summary: str, actor: str, **more: Any
) -> int | None:
    """An item about ``visit``: its partner, campaign and visit filled in."""
    return record(
        session,
        kind=kind,
        partner_id=visit.partner_id,
        campaign_id=visit.campaign_id,
        visit_id=visit.id,
        summary=summary,
        actor=actor,
        **more,
    )


def visit_confirmed(session: Session, *, visit: VisitRequest, site_name: str, actor: str) -> None:
    _about_visit(
        session,
        visit,
        kind="visit_confirmed",
        summary=f"{site_name}: visit on {visit.scheduled_date} confirmed",
        actor=actor,
        data={"scheduled_date": visit.scheduled_date},
    )


def visit_rebooked(
    session: Session, *, visit: VisitRequest, site_name: str, was: date | None, actor: str
) -> None:
    """The partner picked another slot itself (booked at once in a new plan version)."""
    _about_visit(
        session,
        visit,
        kind="visit_rebooked",
        summary=f"{site_name}: the partner booked {visit.scheduled_date}"
        + (f" instead of {was}" if was else ""),
        actor=actor,
        data={
            "from_date": was,
            "scheduled_date": visit.scheduled_date,
            "window_start": visit.window_start,
            "window_end": visit.window_end,
        },
    )


def reschedule_requested(
    session: Session,
    *,
    visit: VisitRequest,
    site_name: str,
    blocked_dates: list[date],
    note: str | None,
    actor: str,
) -> None:
    blocked = ", ".join(d.isoformat() for d in blocked_dates) or "no dates"
    _about_visit(
        session,
        visit,
        kind="reschedule_requested",
        summary=f"{site_name}: another date asked for (blocked {blocked})"
        + (f": {note}" if note else ""),
        actor=actor,
        data={
            "blocked_dates": blocked_dates,
            "preferred_windows": visit.preferred_windows,
            "note": note,
        },
    )


def unit_refused(
    session: Session,
    *,
    campaign_id: int,
    partner_id: int,
    unit_id: int,
    serial: str,
    note: str | None,
    actor: str,
) -> None:
    """The fix was declined on site: the lead decides (re-open or waive)."""
    record(
        session,
        kind="unit_refused",
        partner_id=partner_id,
        campaign_id=campaign_id,
        unit_id=unit_id,
        summary=f"unit {serial}: the fix was refused on site" + (f" ({note})" if note else ""),
        actor=actor,
        data={"note": note},
    )


def field_conflict(
    session: Session,
    *,
    visit: VisitRequest,
    unit_id: int | None,
    summary: str,
    data: dict[str, Any],
    actor: str,
) -> int:
    """Work a technician recorded that could not be applied (``data`` says what was
    recorded, when, and why it was refused): the lead decides what stands."""
    item_id = _about_visit(
        session,
        visit,
        kind="field_conflict",
        unit_id=unit_id,
        summary=summary,
        actor=actor,
        data=data,
    )
    assert item_id is not None  # only failure reports are deduplicated
    return item_id


def failures_reported(session: Session, *, report_ids: list[int], actor: str) -> None:
    """Failure reports a partner sent (one item each)."""
    rows = session.execute(
        select(FailureReport, Unit.serial, Site.partner_id, Site.name)
        .join(Unit, Unit.id == FailureReport.unit_id)
        .join(Site, Site.id == Unit.site_id)
        .where(FailureReport.id.in_(report_ids))
        .order_by(FailureReport.id)
    ).all()
    for report, serial, partner_id, site_name in rows:
        record(
            session,
            kind="failure_reported",
            partner_id=partner_id,
            unit_id=report.unit_id,
            failure_report_id=report.id,
            summary=f"failure of unit {serial} at {site_name}: {report.symptom or 'no symptom'}",
            actor=actor,
            data={"occurred_at": report.occurred_at, "source": report.source},
        )


@dataclass(frozen=True)
class InboxFilter:
    unread: bool | None = None
    kind: str | None = None
    partner_id: int | None = None
    campaign_id: int | None = None


def _rows() -> Select:
    return (
        select(
            InboxItem,
            Partner.partner_key,
            Partner.name,
            Site.site_key,
            Unit.serial,
            FailureReport.report_key,
        )
        .join(Partner, Partner.id == InboxItem.partner_id)
        .outerjoin(VisitRequest, VisitRequest.id == InboxItem.visit_id)
        .outerjoin(Unit, Unit.id == InboxItem.unit_id)
        .outerjoin(Site, Site.id == func.coalesce(VisitRequest.site_id, Unit.site_id))
        .outerjoin(FailureReport, FailureReport.id == InboxItem.failure_report_id)
    )


def _out(row: Any) -> InboxItemOut:
    item, partner_key, partner_name, site_key, serial, report_key = row
    return InboxItemOut(
        id=item.id,
        kind=item.kind,
        partner_key=partner_key,
        partner_name=partner_name,
        campaign_id=item.campaign_id,
        visit_id=item.visit_id,
        site_key=site_key,
        serial=serial,
        report_key=report_key,
        summary=item.summary,
        data=item.data,
        actor=item.actor,
        created_at=item.created_at,
        read=item.read_at is not None,
        read_at=item.read_at,
        read_by=item.read_by,
    )


def check_campaign_filter(session: Session, campaign_id: int | None) -> None:
    """A campaign filter must name a campaign (a 422 otherwise, like every filter)."""
    if campaign_id is not None and session.get(Campaign, campaign_id) is None:
        raise InvalidInput(f"campaign: no campaign {campaign_id}")


def list_items(
    session: Session, *, filters: InboxFilter, page: PageRequest
) -> tuple[list[InboxItemOut], int]:
    """Newest first."""
    stmt = _rows()
    if filters.unread is not None:
        stmt = stmt.where(
            InboxItem.read_at.is_(None) if filters.unread else InboxItem.read_at.is_not(None)
        )
    if filters.kind is not None:
        stmt = stmt.where(InboxItem.kind == filters.kind)
    if filters.partner_id is not None:
        stmt = stmt.where(InboxItem.partner_id == filters.partner_id)
    if filters.campaign_id is not None:
        stmt = stmt.where(InboxItem.campaign_id == filters.campaign_id)
    rows, total = paginate(session, stmt.order_by(InboxItem.id.desc()), page)
    return [_out(r) for r in rows], total


def get_item(session: Session, *, item_id: int) -> InboxItemOut:
    row = session.execute(_rows().where(InboxItem.id == item_id)).first()
    if row is None:
        raise NotFound(f"no inbox item {item_id}")
    return _out(row)


def mark(session: Session, *, ids: list[int], read: bool, actor: str) -> int:
    """Mark items read (or unread again); returns how many changed. Unknown ids are a 404
    naming them, and nothing changes."""
    known = set(session.scalars(select(InboxItem.id).where(InboxItem.id.in_(ids))))
    missing = sorted(set(ids) - known)
    if missing:
        raise NotFound(f"no inbox item {', '.join(map(str, missing))}")
    stmt = update(InboxItem).where(InboxItem.id.in_(ids))
    if read:
        stmt = stmt.where(InboxItem.read_at.is_(None)).values(
            read_at=datetime.now(UTC), read_by=actor
        )
    else:
        stmt = stmt.where(InboxItem.read_at.is_not(None)).values(read_at=None, read_by=None)
    changed = session.execute(stmt).rowcount  # type: ignore[attr-defined]
    session.flush()
    return int(changed)


def summary(session: Session) -> InboxSummaryOut:
    """Unread counts per kind, for a badge."""
    by_kind = dict(
        session.execute(
            select(InboxItem.kind, func.count())
            .where(InboxItem.read_at.is_(None))
            .group_by(InboxItem.kind)
        ).all()
    )
    total = session.scalar(select(func.count()).select_from(InboxItem)) or 0
    return InboxSummaryOut(
        unread=sum(by_kind.values()),
        unread_by_kind={k: int(v) for k, v in sorted(by_kind.items())},
        total=int(total),
    )
