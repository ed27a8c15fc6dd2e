"""Problem and plan model of the routing engine: frozen dataclasses, no solver code.

Times are integer "time units" counted from the start of a day (minutes for field plans,
DIMACS tenths for the Solomon benchmarks). Day ``d`` of the horizon starts at the absolute
time ``d * horizon.day_length``; the solver works on that absolute axis, plans report
day-relative times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Location:
    """A point: latitude/longitude in degrees, or x/y for planar benchmark instances."""

    lat: float
    lon: float

    @classmethod
    def xy(cls, x: float, y: float) -> Location:
        """A planar point (Euclidean providers read ``lat`` as x and ``lon`` as y)."""
        return cls(lat=x, lon=y)


@dataclass(frozen=True)
class TimeWindow:
    """Half-open interval [start, end] in time units from the start of a day (inclusive)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"time window ends before it starts: {self.start}..{self.end}")

    def intersect(self, other: TimeWindow) -> TimeWindow | None:
        """The overlap of two windows, or None when they are disjoint."""
        start, end = max(self.start, other.start), min(self.end, other.end)
        return TimeWindow(start, end) if start <= end else None


@dataclass(frozen=True)
class Break:
    """A break of ``duration`` units that must start inside ``window`` (e.g. lunch)."""

    duration: int
    window: TimeWindow


@dataclass(frozen=True)
class Visit:
    """A site visit: where, how long, when it may happen, who may do it, how urgent.

    ``windows`` apply on every day unless ``day_windows`` overrides a day (an empty
    tuple there means closed that day); no windows at all means open all day. Service
    must *start* inside a window. ``latest_day`` is the last day without lateness cost
    (0 means "as early as possible"); the cost per day late is scaled by ``priority``.
    """

    id: str
    location: Location
    service: int
    windows: tuple[TimeWindow, ...] = ()
    day_windows: Mapping[int, tuple[TimeWindow, ...]] = field(default_factory=dict)
    days: frozenset[int] | None = None
    skill: str | None = None
    priority: float = 1.0
    latest_day: int = 0
    demand: int = 0
    pin_technician: str | None = None
    pin_day: int | None = None
    pin_window: TimeWindow | None = None

    def windows_on(self, day: int) -> tuple[TimeWindow, ...] | None:
        """Windows on ``day`` (None = open all day, empty = closed), pins and days applied."""
        if self.days is not None and day not in self.days:
            return ()
        if self.pin_day is not None and day != self.pin_day:
            return ()
        base = self.day_windows.get(day, self.windows or None)
        if self.pin_window is None:
            return base
        if base is None:
            return (self.pin_window,)
        return tuple(w for b in base if (w := b.intersect(self.pin_window)) is not None)


@dataclass(frozen=True)
class Technician:
    """A technician: home base, shifts, days off, skills, daily limits and a break."""

    id: str
    start: Location
    end: Location | None = None
    shift: TimeWindow = TimeWindow(8 * 60, 17 * 60)
    day_shifts: Mapping[int, TimeWindow] = field(default_factory=dict)
    days_off: frozenset[int] = frozenset()
    skills: frozenset[str] = frozenset()
    max_work: int | None = None
    lunch: Break | None = None
    capacity: int | None = None

    @property
    def end_location(self) -> Location:
        return self.end if self.end is not None else self.start

    def shift_on(self, day: int) -> TimeWindow | None:
        """The shift on ``day``, or None on a day off."""
        if day in self.days_off:
            return None
        return self.day_shifts.get(day, self.shift)

    def can_do(self, visit: Visit) -> bool:
        return visit.skill is None or visit.skill in self.skills


@dataclass(frozen=True)
class Horizon:
    """The working days of a plan: day indexes 0..num_days-1, optionally dated."""

    num_days: int
    day_length: int = 24 * 60
    first_day: date | None = None


@dataclass(frozen=True)
class CostWeights:
    """Objective weights, all in "drive time units" per priority unit.

    ``unassigned`` is the cost of leaving a priority-1 visit out of the plan;
    ``lateness_per_day`` the cost of serving a priority-1 visit one day after its
    ``latest_day``.
    """

    unassigned: int = 24 * 60
    lateness_per_day: int = 30


@runtime_checkable
class TravelTimeProvider(Protocol):
    """Anything that turns locations into a square integer travel-time matrix (the
    providers are in ``routing.engine.travel``)."""

    def matrix(self, locations: Sequence[Location]) -> np.ndarray: ...


@dataclass(frozen=True)
class Problem:
    """Everything the solver needs: visits, technicians, horizon and travel times."""

    visits: tuple[Visit, ...]
    technicians: tuple[Technician, ...]
    horizon: Horizon
    travel: TravelTimeProvider
    costs: CostWeights = CostWeights()

    def locations(self) -> list[Location]:
        """Matrix order: visits first, then each technician's start, then end."""
        locs = [v.location for v in self.visits]
        locs += [t.start for t in self.technicians]
        locs += [t.end_location for t in self.technicians]
        return locs

    def visit(self, visit_id: str) -> Visit:
        for v in self.visits:
            if v.id == visit_id:
                return v
        raise KeyError(visit_id)


@dataclass(frozen=True)
class Stop:
    """A served visit: arrival, service start and end, in units from the day's start."""

    visit_id: str
    arrival: int
    start: int
    end: int


@dataclass(frozen=True)
class Route:
    """One technician's day: departure, stops in order, return, and the break if taken."""

    technician_id: str
    day: int
    departure: int
    stops: tuple[Stop, ...]
    arrival_home: int
    break_start: int | None = None


@dataclass(frozen=True)
class Unassigned:
    """A visit the plan does not serve, with a machine-readable reason."""

    visit_id: str
    reason: str


# Reasons reported in Unassigned.reason.
NO_SKILLED_TECHNICIAN = "no_skilled_technician"
CLOSED_EVERY_DAY = "closed_every_day"
NO_TECHNICIAN_AVAILABLE = "no_technician_available"
PINNED_TECHNICIAN_UNAVAILABLE = "pinned_technician_unavailable"
INSUFFICIENT_CAPACITY = "insufficient_capacity"


@dataclass(frozen=True)
class Plan:
    """The solver's answer: routes per technician-day, unassigned visits, and figures."""

    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    drive_time: int
    objective: int = 0

    def assignment(self) -> dict[str, tuple[str, int]]:
        """visit id -> (technician id, day) for every served visit."""
        return {s.visit_id: (r.technician_id, r.day) for r in self.routes for s in r.stops}

    def served_count(self) -> int:
        return sum(len(r.stops) for r in self.routes)


def day_windows_abs(visit: Visit, day: int, horizon: Horizon) -> Sequence[tuple[int, int]]:
    """Absolute (start, end) service-start windows of ``visit`` on ``day``."""
    offset = day * horizon.day_length
    ws = visit.windows_on(day)
    if ws is None:
        return [(offset, offset + horizon.day_length - 1)]
    return [(offset + w.start, offset + w.end) for w in ws]
