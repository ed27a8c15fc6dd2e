"""The support lead's queue of failure reports: how many are in each status and how old
they are, and a filtered page of them with what the lead needs to act on each (the
recall it is linked to, and the active recalls that cover its unit, to link it to).

Age counts from when the failure occurred, in whole days. Moving a report (triage, link,
resolve) is ``lifecycle.change_failure_status``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from core.pagination import PageRequest, paginate
from devices.models import FAILURE_STATUSES, Batch, FailureReport, Partner, Site, Unit
from recall.models import Campaign, CampaignFailureReport, CampaignUnit

# (name, label, from days, to days): a report is in the bucket when from <= age < to.
AGE_BUCKETS: tuple[tuple[str, str, int, int | None], ...] = (
    ("day", "under a day", 0, 1),
    ("week", "1 to 7 days", 1, 7),
    ("month", "7 to 30 days", 7, 30),
    ("older", "over 30 days", 30, None),
)
AGES = tuple(name for name, *_ in AGE_BUCKETS)


@dataclass(frozen=True)
class FailureFilter:
    status: str | None = None
    age: str | None = None  # one of AGES
    batch_key: str | None = None
    partner_key: str | None = None
    source: str | None = None
    search: str | None = None  # a serial or a report key, or the start of one


@dataclass(frozen=True)
class QueuedReport:
    report_key: str
    serial: str
    batch_key: str
    model: str
    site_key: str
    site_name: str
    partner_key: str
    partner_name: str
    occurred_at: datetime
    received_at: datetime
    symptom: str | None
    ambient_temp_c: float | None
    source: str | None
    status: str
    resolution_note: str | None
    linked_campaign_id: int | None
    # Active recalls that cover the report's unit: where it may be linked.
    covering_campaign_ids: list[int]


def _age_condition(name: str, now: datetime) -> ColumnElement[bool]:
    """Reports whose age falls in the bucket ``name``."""
    for bucket, _, from_days, to_days in AGE_BUCKETS:
        if bucket == name:
            condition = FailureReport.occurred_at <= now - timedelta(days=from_days)
            if to_days is not None:
                condition = and_(
                    condition, FailureReport.occurred_at > now - timedelta(days=to_days)
                )
            return condition
    raise ValueError(f"unknown age {name!r}; one of {', '.join(AGES)}")


def _age_bucket(now: datetime) -> ColumnElement[str]:
    return case(*((_age_condition(name, now), name) for name in AGES[:-1]), else_=AGES[-1]).label(
        "age"
    )


def counts(session: Session, *, now: datetime) -> dict[str, dict[str, int]]:
    """Reports per status and age bucket: ``{status: {age: n}}``, every pair present."""
    bucket = _age_bucket(now)
    table = {status: dict.fromkeys(AGES, 0) for status in FAILURE_STATUSES}
    for status, age, n in session.execute(
        select(FailureReport.status, bucket, func.count()).group_by(FailureReport.status, bucket)
    ):
        table[status][age] = int(n)
    return table


def _queue() -> Select:
    covering = (
        select(func.coalesce(func.array_agg(CampaignUnit.campaign_id), []))
        .join(Campaign, Campaign.id == CampaignUnit.campaign_id)
        .where(CampaignUnit.unit_id == FailureReport.unit_id, Campaign.status == "active")
        .scalar_subquery()
    )
    return (
        select(
            FailureReport.report_key,
            Unit.serial,
            Batch.batch_key,
            Batch.model,
            Site.site_key,
            Site.name,
            Partner.partner_key,
            Partner.name,
            FailureReport.occurred_at,
            FailureReport.received_at,
            FailureReport.symptom,
            FailureReport.ambient_temp_c,
            FailureReport.source,
            FailureReport.status,
            FailureReport.resolution_note,
            CampaignFailureReport.campaign_id,
            covering,
        )
        .join(Unit, Unit.id == FailureReport.unit_id)
        .join(Batch, Batch.id == Unit.batch_id)
        .join(Site, Site.id == Unit.site_id)
        .join(Partner, Partner.id == Site.partner_id)
        .outerjoin(
            CampaignFailureReport, CampaignFailureReport.failure_report_id == FailureReport.id
        )
    )


def page(
    session: Session, *, filters: FailureFilter, now: datetime, page: PageRequest
) -> tuple[list[QueuedReport], int]:
    """The reports that pass ``filters``, oldest first (the longest waiting on top)."""
    stmt = _queue()
    for column, value in (
        (FailureReport.status, filters.status),
        (Batch.batch_key, filters.batch_key),
        (Partner.partner_key, filters.partner_key),
        (FailureReport.source, filters.source),
    ):
        if value:
            stmt = stmt.where(column == value)
    if filters.age:
        stmt = stmt.where(_age_condition(filters.age, now))
    if filters.search:
        prefix = filters.search.strip().replace("\\", "\\\\").replace("%", r"\%")
        prefix = prefix.replace("_", r"\_") + "%"
        stmt = stmt.where(or_(Unit.serial.like(prefix), FailureReport.report_key.like(prefix)))
    stmt = stmt.order_by(FailureReport.occurred_at, FailureReport.report_key)
    rows, total = paginate(session, stmt, page)
    return [QueuedReport(*row) for row in rows], total
