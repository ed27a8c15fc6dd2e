"""Campaign visits and technicians -> a routing Problem (pure: no database, no clock).

Time rules, one planning time zone per plan:
- the horizon is every calendar day from ``first_day`` to ``last_day``; day ``d`` is
  ``first_day + d`` and its times are minutes after midnight in the planning zone (a
  technician who does not work a day has it off, so only workdays carry routes);
- a site's opening hours are local to the site's IANA zone and are converted, date by
  date, to the planning zone (a Stockholm site open 08:00-17:00 is open 09:00-18:00 in
  Helsinki time); service must also *end* before closing, so each open span becomes the
  span of allowed start times ``open .. close - service``;
- blocked dates close the visit that day; preferred windows (site-local start times)
  intersect the open spans: undated ones every day, dated ones on their date (replacing
  the undated ones there); when a partner gave only dated windows, only those dates remain;
- a scheduled visit may start on its scheduled date only inside the arrival window its
  partner was promised (else it moves to another day, and the partner is told);
- technicians' shifts (``HH:MM``) and the lunch break are read in the planning zone.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from devices.opening_hours import MINUTES_PER_DAY, parse_days, parse_opening_hours
from recall.campaigns.planning import PreferredWindow, VisitForPlanning
from routing.engine import (
    Break,
    CostWeights,
    Horizon,
    Location,
    Problem,
    Technician,
    TimeWindow,
    TravelTimeProvider,
    Visit,
)


@dataclass(frozen=True)
class TechnicianInput:
    """A technician as the registry holds it (shift times in the planning zone)."""

    id: int
    key: str
    name: str
    lat: float
    lon: float
    skills: tuple[str, ...]
    shift_start: time
    shift_end: time
    workdays: str


@dataclass(frozen=True)
class PlanRules:
    """Settings that shape every plan (see core.settings, ``plan_*``)."""

    timezone: str
    lunch_minutes: int = 30
    lunch_from: time = time(11, 0)
    lunch_to: time = time(13, 0)


@dataclass(frozen=True)
class Calendar:
    """Day index <-> date and day minutes <-> instants, in the planning zone."""

    first_day: date
    last_day: date
    timezone: str

    @property
    def num_days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def day(self, index: int) -> date:
        return self.first_day + timedelta(days=index)

    def index(self, day: date) -> int:
        return (day - self.first_day).days

    def days(self) -> Iterable[tuple[int, date]]:
        return ((d, self.day(d)) for d in range(self.num_days))

    def midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), ZoneInfo(self.timezone)).astimezone(UTC)

    def instant(self, index: int, minutes: int) -> datetime:
        """The instant ``minutes`` after the planning-zone midnight of day ``index``."""
        return self.midnight(self.day(index)) + timedelta(minutes=minutes)

    def minutes(self, index: int, instant: datetime) -> int:
        return int((instant - self.midnight(self.day(index))).total_seconds() // 60)

    def local_minutes(self, index: int, local: time | int, zone: str) -> int:
        """Planning-zone minutes of the wall-clock ``local`` (a time, or minutes up to
        1440 for midnight at the end) on day ``index`` in ``zone``."""
        day = self.day(index)
        if isinstance(local, time):
            local = local.hour * 60 + local.minute
        if local >= MINUTES_PER_DAY:
            day, local = day + timedelta(days=1), local - MINUTES_PER_DAY
        wall = datetime.combine(day, time(local // 60, local % 60), ZoneInfo(zone))
        return self.minutes(index, wall.astimezone(UTC))


def _clip(start: int, end: int) -> TimeWindow | None:
    start, end = max(start, 0), min(end, MINUTES_PER_DAY - 1)
    return TimeWindow(start, end) if start <= end else None


def _preferred_on(
    windows: tuple[PreferredWindow, ...], day: date
) -> tuple[PreferredWindow, ...] | None:
    """The preferred windows that apply on ``day`` (None: no preference that day)."""
    dated = tuple(w for w in windows if w.on == day)
    if dated:
        return dated
    undated = tuple(w for w in windows if w.on is None)
    if undated:
        return undated
    if windows:  # only dated preferences, none today: the partner did not offer this day
        return ()
    return None


# Sites share a few opening-hours strings and zones: a 10,000-visit, 12-day plan parsed
# the same strings 120,000 times and converted the same wall-clock times 230,000 times
# (7 s of the plan's set-up), so both are cached.
_hours = functools.lru_cache(maxsize=4096)(parse_opening_hours)


@functools.lru_cache(maxsize=65536)
def _local(cal: Calendar, index: int, local: int, zone: str) -> int:
    return cal.local_minutes(index, local, zone)


def start_windows(visit: VisitForPlanning, cal: Calendar, index: int) -> tuple[TimeWindow, ...]:
    """Allowed service-start windows of ``visit`` on day ``index`` (planning-zone minutes)."""
    day = cal.day(index)
    if day in visit.blocked_dates:
        return ()
    hours = _hours(visit.opening_hours)
    service = visit.estimated_minutes
    spans: list[TimeWindow] = []
    for open_m, close_m in hours.spans(day.weekday()):
        start = _local(cal, index, open_m, visit.timezone)
        end = _local(cal, index, close_m, visit.timezone) - service
        if (w := _clip(start, end)) is not None:
            spans.append(w)
    preferred = _preferred_on(visit.preferred_windows, day)
    if preferred is None:
        return tuple(spans)
    out: list[TimeWindow] = []
    for p in preferred:
        pw = TimeWindow(
            cal.local_minutes(index, p.start, visit.timezone),
            cal.local_minutes(index, p.end, visit.timezone),
        )
        out += [w for s in spans if (w := s.intersect(pw)) is not None]
    return tuple(sorted(set(out), key=lambda w: (w.start, w.end)))


def priority_of(rank: int, worst_rank: int) -> float:
    """Rank 1 weighs 2, the last rank 1: lateness and leaving a visit out cost more for
    the sites the campaign's rule put first."""
    if worst_rank <= 1:
        return 2.0
    return 1.0 + (worst_rank - rank) / (worst_rank - 1)


def promised_window(v: VisitForPlanning, cal: Calendar) -> tuple[int, TimeWindow] | None:
    """(day, window) of the arrival window the partner holds, when inside the horizon."""
    if v.status != "scheduled" or v.scheduled_date is None:
        return None
    if v.window_start is None or v.window_end is None:
        return None
    if not cal.first_day <= v.scheduled_date <= cal.last_day:
        return None
    day = cal.index(v.scheduled_date)
    window = _clip(cal.minutes(day, v.window_start), cal.minutes(day, v.window_end))
    return None if window is None else (day, window)


def build_visit(
    v: VisitForPlanning,
    cal: Calendar,
    *,
    worst_rank: int,
    deadline: date | None,
    closed_days: frozenset[date] = frozenset(),
) -> Visit:
    day_windows = {
        d: () if day in closed_days else start_windows(v, cal, d) for d, day in cal.days()
    }
    promised = promised_window(v, cal)
    if promised is not None:
        # A promise is kept or the visit moves to another day: on its promised day the
        # visit may only start inside the window the partner was given.
        day, window = promised
        day_windows[day] = tuple(
            w for base in day_windows[day] if (w := base.intersect(window)) is not None
        )
    latest = 0 if deadline is None else min(max(cal.index(deadline), 0), cal.num_days - 1)
    return Visit(
        id=str(v.visit_id),
        location=Location(v.lat, v.lon),
        service=v.estimated_minutes,
        day_windows=day_windows,
        skill=v.required_skill,
        priority=priority_of(v.priority_rank, worst_rank),
        latest_day=latest,
    )


def build_technician(
    t: TechnicianInput, cal: Calendar, rules: PlanRules, absent: frozenset[date] = frozenset()
) -> Technician:
    workdays = parse_days(t.workdays)
    days_off = frozenset(
        d for d, day in cal.days() if day.weekday() not in workdays or day in absent
    )
    shifts = {
        d: TimeWindow(
            cal.local_minutes(d, t.shift_start, cal.timezone),
            cal.local_minutes(d, t.shift_end, cal.timezone),
        )
        for d, _ in cal.days()
        if d not in days_off
    }
    lunch = None
    if rules.lunch_minutes > 0:
        lunch_from = rules.lunch_from.hour * 60 + rules.lunch_from.minute
        lunch_to = rules.lunch_to.hour * 60 + rules.lunch_to.minute
        lunch = Break(
            rules.lunch_minutes,
            TimeWindow(lunch_from, max(lunch_from, lunch_to - rules.lunch_minutes)),
        )
    home = Location(t.lat, t.lon)
    return Technician(
        id=str(t.id),
        start=home,
        shift=TimeWindow(
            t.shift_start.hour * 60 + t.shift_start.minute,
            t.shift_end.hour * 60 + t.shift_end.minute,
        ),
        day_shifts=shifts,
        days_off=days_off,
        skills=frozenset(t.skills),
        lunch=lunch,
    )


def build_problem(
    *,
    visits: list[VisitForPlanning],
    technicians: list[TechnicianInput],
    cal: Calendar,
    rules: PlanRules,
    travel: TravelTimeProvider,
    deadline: date | None,
    absences: Mapping[int, frozenset[date]] | None = None,
    closures: Mapping[int, frozenset[date]] | None = None,
    costs: CostWeights | None = None,
) -> Problem:
    """The routing problem for ``visits`` over ``cal``. ``absences`` (technician id ->
    dates) become days off and ``closures`` (site id -> dates) closed days; a re-plan
    passes none here and feeds them in as a routing.engine.Change instead."""
    absences = absences or {}
    closures = closures or {}
    worst = max((v.priority_rank for v in visits), default=1)
    return Problem(
        visits=tuple(
            build_visit(
                v,
                cal,
                worst_rank=worst,
                deadline=deadline,
                closed_days=closures.get(v.site_id, frozenset()),
            )
            for v in visits
        ),
        technicians=tuple(
            build_technician(t, cal, rules, absences.get(t.id, frozenset())) for t in technicians
        ),
        horizon=Horizon(num_days=cal.num_days, day_length=MINUTES_PER_DAY, first_day=cal.first_day),
        travel=travel,
        costs=costs or CostWeights(),
    )
