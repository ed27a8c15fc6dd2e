"""Registry use cases: reporting failures through the API and importing files, and finding a
partner or a technician by its key (404 when there is none)."""

from __future__ import annotations

from dataclasses import dataclass
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
    FailureReport,
    Partner,
    Technician,
)
from devices.schemas import FailureIn

# How the operator's own feed is named where a reporter is asked for.
OPERATOR = "operator"


@dataclass(frozen=True)
class Reporter:
    """Who files failure reports, and what follows from it.

    ``partner_id``: a partner reports on its own units only, and its report keys are its
    own namespace; None is the operator's feed (support leads, technicians, imports,
    telemetry), one namespace. ``source``: the source the caller's role implies (None:
    the report says). ``site_ids``: the only sites whose units it may report on (a
    technician: the sites of its routes); None for no such limit.
    """

    actor: str
    partner_id: int | None = None
    source: str | None = None
    site_ids: frozenset[int] | None = None


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
    reporter: Reporter,
    max_batch: int,
    follow_up: ReportsFollowUp | None = None,
) -> tuple[list[Any], int]:
    """Store new failure reports; a key the reporter used before returns the stored report.
    The new ones go to ``follow_up`` before the stored rows are read back, so the answer
    shows their status after it (e.g. linked to a recall).

    Returns the stored rows (in request order) and how many were newly created. The whole
    request is refused, and nothing stored, when any report is invalid.
    """
    if not reports:
        raise InvalidInput("no failure reports in the request")
    if len(reports) > max_batch:
        raise InvalidInput(f"at most {max_batch} failure reports per request, got {len(reports)}")
    if reporter.source is not None:
        wrong = sorted({r.source for r in reports if r.source not in (None, reporter.source)})
        if wrong:
            raise InvalidInput(
                f"this key reports with source {reporter.source!r}, not {', '.join(wrong)}"
            )
    keys = list(dict.fromkeys(r.report_key for r in reports))
    first_by_key: dict[str, FailureIn] = {}
    for report in reports:
        first_by_key.setdefault(report.report_key, report)

    stored = repository.stored_report_keys(session, keys, reporter_partner_id=reporter.partner_id)
    new = [first_by_key[k] for k in keys if k not in stored]
    # Units out of the caller's reach are unknown to it, like units that do not exist.
    units = repository.units_by_serial(
        session,
        sorted({r.serial for r in new}),
        partner_id=reporter.partner_id,
        site_ids=reporter.site_ids,
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
        source = reporter.source or report.source
        inserted = session.execute(
            insert(FailureReport)
            .values(
                report_key=report.report_key,
                reported_by_partner_id=reporter.partner_id,
                unit_id=units[report.serial][0],
                occurred_at=report.occurred_at,
                symptom=report.symptom,
                ambient_temp_c=report.ambient_temp_c,
                source=source,
            )
            # A concurrent request of the same reporter with the same key wins; ours
            # becomes a no-op and answers with the report it stored.
            .on_conflict_do_nothing(constraint="uq_failure_report_reporter_key")
            .returning(FailureReport.id)
        ).scalar()
        if inserted is not None:
            created_ids.append(inserted)
            record_event(
                session,
                actor=reporter.actor,
                entity="failure_report",
                entity_key=report.report_key,
                action="reported",
                to_state="open",
                data={"serial": report.serial, "source": source, "report_id": inserted},
            )
    if follow_up is not None and created_ids:
        follow_up(
            session, created_ids, actor=reporter.actor, from_partner=reporter.partner_id is not None
        )
    rows, _ = repository.list_failures(
        session,
        partner_id=reporter.partner_id,
        page=PageRequest(limit=len(keys), offset=0),
        report_keys=keys,
        reporter_partner_id=reporter.partner_id,
    )
    by_key = {row.report_key: row for row in rows}
    return [by_key[k] for k in keys if k in by_key], len(created_ids)


def report_id_for_key(
    session: Session,
    report_key: str,
    *,
    partner_id: int | None,
    reporter: str | None = None,
) -> int:
    """The report a key names for a caller who sees ``partner_id``'s units (None: all).

    Keys are unique per reporter, so a key may name reports of several reporters:
    ``reporter`` (a partner key, or "operator") picks one; without it the caller's own
    namespace wins (a partner's own reports, else the operator's feed); a key still
    naming several is a 409 that says how to choose. 404 when it names none.
    """
    found = repository.reports_with_key(session, report_key, partner_id=partner_id)
    if reporter is not None:
        wanted = None if reporter == OPERATOR else reporter
        found = [f for f in found if f[1] == wanted]
    if len(found) > 1:
        own = partner_key(session, partner_id) if partner_id is not None else None
        preferred = [f for f in found if f[1] == own] or [f for f in found if f[1] is None]
        found = preferred if len(preferred) == 1 else found
    if not found:
        raise NotFound(f"no failure report {report_key!r}")
    if len(found) > 1:
        names = ", ".join(sorted(f[1] or OPERATOR for f in found))
        raise Conflict(
            f"report_key {report_key!r} names reports of several reporters ({names}); "
            "choose one with ?reporter="
        )
    return found[0][0]


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
