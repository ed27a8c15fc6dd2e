"""A small, strict parser for the subset of OSM ``opening_hours`` syntax the CSVs use.

Supported: ``24/7``; rules separated by ``;`` of the form ``DAYS TIMES`` where DAYS is a
comma list of days or day ranges (``Mo-Fr``, ``Mo,We,Fr``, ``Sa``, ``Su-Tu`` wraps) and
TIMES is a comma list of ``HH:MM-HH:MM`` spans or ``off``. As in OSM, a later rule replaces
what earlier rules said about the same day. An empty value means always open. The same day
grammar serves technicians' ``workdays``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

DAY_NAMES = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
MINUTES_PER_DAY = 24 * 60


class OpeningHoursError(ValueError):
    pass


@dataclass(frozen=True)
class WeeklyHours:
    """Open spans per weekday (0 = Monday), in minutes after local midnight."""

    by_weekday: tuple[tuple[tuple[int, int], ...], ...]

    def spans(self, weekday: int) -> tuple[tuple[int, int], ...]:
        return self.by_weekday[weekday]

    @property
    def always_open(self) -> bool:
        return all(spans == ((0, MINUTES_PER_DAY),) for spans in self.by_weekday)


ALWAYS_OPEN = WeeklyHours(tuple(((0, MINUTES_PER_DAY),) for _ in DAY_NAMES))


def parse_days(text: str) -> frozenset[int]:
    """Weekday numbers of a day list such as ``Mo-Fr`` or ``Mo,We,Sa-Su``."""
    days: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        ends = part.split("-")
        if len(ends) not in (1, 2) or any(e not in DAY_NAMES for e in ends):
            raise OpeningHoursError(f"unknown day or day range {part!r} (use Mo Tu We Th Fr Sa Su)")
        first = DAY_NAMES.index(ends[0])
        last = DAY_NAMES.index(ends[-1])
        span = (last - first) % 7
        days.update((first + i) % 7 for i in range(span + 1))
    return frozenset(days)


def _parse_spans(text: str) -> tuple[tuple[int, int], ...]:
    if text.strip().lower() in ("off", "closed"):
        return ()
    spans = []
    for part in text.split(","):
        match = _SPAN.match(part.strip())
        if not match:
            raise OpeningHoursError(f"bad time span {part.strip()!r} (expected HH:MM-HH:MM)")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 23 or m1 > 59 or m2 > 59 or end > MINUTES_PER_DAY:
            raise OpeningHoursError(f"time out of range in {part.strip()!r}")
        if end <= start:
            raise OpeningHoursError(f"span {part.strip()!r} ends before it starts")
        spans.append((start, end))
    spans.sort()
    for (_, end_a), (start_b, _) in itertools.pairwise(spans):
        if start_b < end_a:
            raise OpeningHoursError(f"overlapping spans in {text.strip()!r}")
    return tuple(spans)


@lru_cache(maxsize=4096)
def parse_opening_hours(text: str | None) -> WeeklyHours:
    """Parse an opening_hours value; empty or None means always open. Cached: a plan of
    thousands of sites over weeks asks for the same few values again and again."""
    if text is None or not text.strip() or text.strip() == "24/7":
        return ALWAYS_OPEN
    week: list[tuple[tuple[int, int], ...]] = [() for _ in DAY_NAMES]
    for rule in text.split(";"):
        rule = rule.strip()
        if not rule:
            continue
        days_text, _, times_text = rule.partition(" ")
        if not times_text.strip():
            raise OpeningHoursError(f"rule {rule!r} needs days and times, e.g. 'Mo-Fr 08:00-17:00'")
        spans = _parse_spans(times_text)
        for day in parse_days(days_text):
            week[day] = spans
    return WeeklyHours(tuple(week))


def opening_hours_problem(text: str) -> str | None:
    """None when the value parses, else the reason (for import validation)."""
    try:
        parse_opening_hours(text)
    except OpeningHoursError as exc:
        return str(exc)
    return None


def workdays_problem(text: str) -> str | None:
    try:
        parse_days(text)
    except OpeningHoursError as exc:
        return str(exc)
    return None
