"""What day it is where a route runs, and the rule that follows from it: outcomes for a
stop are recorded from the stop's day on, never before (a technician who taps on
tomorrow's sheet by mistake must not close a visit that has not happened).

A route's day is a calendar day in its plan's time zone, so "today" is read in that zone.
The clock is the one function ``now``: tests set the day by replacing it (the rule and the
field app's "coming days" both read it), production reads the system clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from core.errors import Conflict


def now() -> datetime:
    """The current instant (aware, UTC)."""
    return datetime.now(UTC)


def today_in(zone: str) -> date:
    """Today's date in the IANA time zone ``zone``."""
    return now().astimezone(ZoneInfo(zone)).date()


def has_come(day: date, zone: str) -> bool:
    """True when ``day`` (a day in ``zone``) is today or past."""
    return day <= today_in(zone)


def long_day(day: date) -> str:
    """A day as people read it: ``Thu 3 Dec 2026``."""
    return f"{day:%a} {day.day} {day:%b %Y}"


class NotYet(Conflict):
    """An outcome (or a start) for a stop whose day has not come."""


def check_day_has_come(day: date, zone: str, *, what: str) -> None:
    """Refuse (409, with the reason) work on a stop whose day has not come."""
    today = today_in(zone)
    if day > today:
        raise NotYet(
            f"{what} is planned for {long_day(day)}; outcomes are recorded from that day on "
            f"(today is {long_day(today)} in {zone})"
        )
