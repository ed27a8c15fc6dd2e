"""Registry use cases: reporting failures through the API and importing files, and finding a
partner or a technician by its key (404 when there is none)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound
from core.events import record_event
from core.pagination import PageRequest
from devices import repository
from devices.models import (
    MIN_DATE,
    Batch,
    FailureReport,
    Partner,
    Site,
    Technician,
    Unit,
    WeatherStation,
)
from devices.schemas import FailureIn


class ReportsFollowUp(Protocol):
    """What happens to failure reports once stored, in the same transaction. The registry
    knows no recall: the composition root (``api``) hands in recall's follow-up, which
    links a report on a unit already under recall and tells its partner. ``report_ids``
    None means "whatever a file import brought"."""

    def __call__(
        self, session: Session, report_ids: list[int] | None, *, actor: str, from_partner: bool
    ) -> object: ...


def report_failures(
    session: Session,
    *,
    reports: list[FailureIn],
    partner_id: int | None,
    actor: str,
    max_batch: int,
    follow_up: ReportsFollowUp | None = None,
) -> tuple[list[Any], int]:
    """Store new failure reports; a known ``report_key`` returns the stored report. The
    new ones go to ``follow_up`` before the stored rows are read back, so the answer
    shows their status after it (e.g. linked to a recall).

    Returns the stored rows (in request order) and how many were newly created. The whole
    request is refused, and nothing stored, when any report is invalid.
    """
    if not reports:
        raise InvalidInput("no failure reports in the request")
    if len(reports) > max_batch:
        raise InvalidInput(f"at most {max_batch} failure reports per request, got {len(reports)}")
    keys = list(dict.fromkeys(r.report_key for r in reports))
    first_by_key: dict[str, FailureIn] = {}
    for report in reports:
        first_by_key.setdefault(report.report_key, report)

    stored = _stored_owners(session, keys)
    if partner_id is not None:
        foreign = [k for k, owner in stored.items() if owner != partner_id]
        if foreign:
            # Saying more would tell a partner about another partner's report.
            raise Conflict(f"report_key already used: {', '.join(sorted(foreign))}")
    new = [first_by_key[k] for k in keys if k not in stored]
    units = repository.units_by_serial(
        session, sorted({r.serial for r in new}), partner_id=partner_id
    )
    problems = []
    for report in new:
        if report.serial not in units:
            problems.append(f"report {report.report_key}: unknown serial {report.serial!r}")
        else:
            problems += _date_problems(report, installed_on=units[report.serial][1])
    if problems:
        raise (NotFound if all("unknown serial" in p for p in problems) else InvalidInput)(
            "; ".join(problems)
        )
    created_ids: list[int] = []
    for report in new:
        inserted = session.execute(
            insert(FailureReport)
            .values(
                report_key=report.report_key,
                unit_id=units[report.serial][0],
                occurred_at=report.occurred_at,
                symptom=report.symptom,
                ambient_temp_c=report.ambient_temp_c,
                source=report.source,
            )
            # A concurrent request with the same key wins; ours becomes a no-op.
            .on_conflict_do_nothing(index_elements=["report_key"])
            .returning(FailureReport.id)
        ).scalar()
        if inserted is not None:
            created_ids.append(inserted)
            record_event(
                session,
                actor=actor,
                entity="failure_report",
                entity_key=report.report_key,
                action="reported",
                to_state="open",
                data={"serial": report.serial, "source": report.source},
            )
    if follow_up is not None and created_ids:
        follow_up(session, created_ids, actor=actor, from_partner=partner_id is not None)
    rows, _ = repository.list_failures(
        session,
        partner_id=partner_id,
        page=PageRequest(limit=len(keys), offset=0),
        report_keys=keys,
    )
    by_key = {row.report_key: row for row in rows}
    return [by_key[k] for k in keys if k in by_key], len(created_ids)


def _date_problems(report: FailureIn, *, installed_on: date | None) -> list[str]:
    """The same date rules as the CSV import of failures (devices/csv_formats.py), checked
    before the insert so that a bad date is a 422 naming it, not a refused constraint."""
    when = report.occurred_at
    earliest = datetime.fromisoformat(MIN_DATE).replace(tzinfo=UTC)
    problems = []
    if when < earliest:
        problems.append(f"occurred_at {when.isoformat()} is before {MIN_DATE}")
    if when > datetime.now(UTC) + timedelta(days=1):
        problems.append(f"occurred_at {when.isoformat()} is in the future")
    if installed_on and when < datetime.combine(installed_on, time(), UTC) - timedelta(days=1):
        problems.append(
            f"occurred_at {when.isoformat()} is before the unit was installed ({installed_on})"
        )
    return [f"report {report.report_key}: {p}" for p in problems]


def _stored_owners(session: Session, keys: list[str]) -> dict[str, int]:
    """partner id owning each already stored report key."""
    stmt = (
        select(FailureReport.report_key, Site.partner_id)
        .join(Unit, Unit.id == FailureReport.unit_id)
        .join(Site, Site.id == Unit.site_id)
        .where(FailureReport.report_key.in_(keys))
    )
    return {key: owner for key, owner in session.execute(stmt)}


def filter_ids(
    session: Session,
    *,
    partner_scope: int | None = None,
    partner: str | None = None,
    site: str | None = None,
    batch: str | None = None,
    serial: str | None = None,
    station: str | None = None,
) -> dict[str, int]:
    """The ids behind the keys a list was filtered by, by filter name. A key nobody knows
    (or that the caller's partner scope hides) is a 422 naming the filter and the value,
    so a typo never reads as "nothing there"."""

    def scoped(stmt: Any, partner_column: Any) -> Any:
        return stmt if partner_scope is None else stmt.where(partner_column == partner_scope)

    checks = (
        (
            "partner",
            partner,
            scoped(select(Partner.id).where(Partner.partner_key == partner), Partner.id),
        ),
        ("site", site, scoped(select(Site.id).where(Site.site_key == site), Site.partner_id)),
        ("batch", batch, select(Batch.id).where(Batch.batch_key == batch)),
        (
            "serial",
            serial,
            scoped(
                select(Unit.id).join(Site, Site.id == Unit.site_id).where(Unit.serial == serial),
                Site.partner_id,
            ),
        ),
        (
            "station",
            station,
            select(WeatherStation.id).where(WeatherStation.station_key == station),
        ),
    )
    found: dict[str, int] = {}
    unknown: list[str] = []
    for name, value, stmt in checks:
        if value is None:
            continue
        key_id = session.scalar(stmt)
        if key_id is None:
            unknown.append(f"{name}: no {name} {value!r}")
        else:
            found[name] = key_id
    if unknown:
        raise InvalidInput("unknown filter value (" + "; ".join(unknown) + ")")
    return found


def partner_id(session: Session, partner_key: str) -> int:
    """The id of the partner with this key; 404 when there is none."""
    found = session.scalar(select(Partner.id).where(Partner.partner_key == partner_key))
    if found is None:
        raise NotFound(f"no partner with partner_key {partner_key!r}")
    return found


def technician_id(session: Session, technician_key: str) -> int:
    """The id of the technician with this key; 404 when there is none."""
    found = session.scalar(select(Technician.id).where(Technician.technician_key == technician_key))
    if found is None:
        raise NotFound(f"no technician with technician_key {technician_key!r}")
    return found


def partner_key(session: Session, partner_id: int) -> str:
    return session.scalars(select(Partner.partner_key).where(Partner.id == partner_id)).one()


def technician_key(session: Session, technician_id: int) -> str:
    return session.scalars(
        select(Technician.technician_key).where(Technician.id == technician_id)
    ).one()
