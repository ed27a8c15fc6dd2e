"""What the technician's pages show, worked out from a route sheet (no database here; the
routes hand over the sheet): times in each site's own zone (named when it differs from
the plan's, the zone the technician's day runs in), who reported a failure, the map of
the day, and the secret link's access rules.

A secret link is the credential of the field app: the token in the address opens the
technician's pages and records its work (no cookie, so no CSRF token is needed: another
site can neither read nor guess the address). A partner's link opens no technician page
(404, as an unknown one); used to record work it is a 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from api.pages.widgets import feature_collection, line, point
from core.errors import Forbidden, NotFound
from core.links import GONE, link_for_token
from recall.campaigns.field_work import ReportNote
from routing.sheets.days import has_come, long_day
from routing.sheets.service import RouteSheet, SheetStop

OUTCOME_LABELS = {
    "fixed": "Fixed",
    "unable_to_access": "Unable to access",
    "refused": "Refused",
    "not_found": "Not found",
}
STATE_LABELS = {
    **{k: v.lower() for k, v in OUTCOME_LABELS.items()},
    "affected": "affected",
    "notified": "to be planned again",
    "scheduled": "to do",
    "in_progress": "in progress",
    "waived": "waived by the support lead",
}
REPORTERS = {"partner": "the partner", "technician": "a technician", "telemetry": "telemetry"}


@dataclass(frozen=True)
class Holder:
    """Whom a secret link opens the pages of, and its actor name in the audit trail."""

    technician_id: int
    actor: str


def link_holder(session: Session, token: str, *, acting: bool = False) -> Holder:
    """The technician a link belongs to; 404 for an unknown link, and for a partner's
    link 404 on a page, 403 when it tries to record work."""
    link = link_for_token(session, token)
    if link.technician_id is None:
        if acting:
            raise Forbidden("a partner's link cannot record a technician's work")
        raise NotFound(GONE)
    return Holder(link.technician_id, f"technician:link{link.id}")


def site_hm(moment: datetime, zone: str) -> str:
    """A moment as HH:MM in the site's zone."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%H:%M")


def zone_named(sheet: RouteSheet, stop: SheetStop) -> str | None:
    """The site's zone, when it is not the one the technician's day runs in."""
    return stop.work.timezone if stop.work.timezone != sheet.timezone else None


def reported(report: ReportNote, stop: SheetStop) -> str:
    """``3 Nov 2025, reported by the partner (Alpha Oy)``, the day in the site's zone."""
    day = report.occurred_at.astimezone(ZoneInfo(stop.work.timezone)).date()
    who = REPORTERS.get(report.source or "", "an unnamed source")
    if report.source == "partner":
        who += f" ({stop.work.partner_name})"
    return f"{long_day(day)}, reported by {who}"


def unit_done(state: str, last_outcome: str | None, stop_status: str) -> str | None:
    """The outcome a unit shows as done at this stop, or None while it is to do. Once the
    stop is finished a unit shows the outcome recorded at this visit (a revisit may have
    moved its state on); one that was not the visit's work has none and is not done."""
    if state in OUTCOME_LABELS or state == "waived":
        return state
    if stop_status == "finished":
        return last_outcome
    return None


def day_map(sheet: RouteSheet) -> dict[str, Any]:
    """The day on a map: home, the numbered stops, and the line between them."""
    home = (sheet.home_lat, sheet.home_lon)
    path = [home, *((s.work.lat, s.work.lon) for s in sheet.stops), home]
    return feature_collection(
        [
            line(path, title="The day's route", color="#0072B2"),
            point(*home, title="Home", color="#000000"),
            *(
                point(s.work.lat, s.work.lon, label=s.seq, title=f"{s.seq}. {s.work.site_name}")
                for s in sheet.stops
            ),
        ]
    )


def day_url(base: str, day: date) -> str:
    return f"{base}{day.isoformat()}"


@dataclass(frozen=True)
class DayLine:
    """One day of the list of days."""

    day: date
    url: str
    stops: int
    units: int
    finished: int
    today: bool
    coming: bool


def day_lines(sheets: list[RouteSheet], base: str) -> list[DayLine]:
    lines = []
    for sheet in sheets:
        over = has_come(sheet.day + timedelta(days=1), sheet.timezone)
        lines.append(
            DayLine(
                day=sheet.day,
                url=day_url(base, sheet.day),
                stops=len(sheet.stops),
                units=sum(len(s.work.units) for s in sheet.stops),
                finished=sum(s.status == "finished" for s in sheet.stops),
                today=has_come(sheet.day, sheet.timezone) and not over,
                coming=not over,
            )
        )
    return lines
