"""Timing one technician-day given its stops in order: each stop as early as its windows
allow but never before a bound (its start in the plan being changed), the lunch break in
the gap that pushes the stops least, then brings the technician home earliest, and the
departure as late as the first stop allows. What the validator checks, computed forward:
a route timed here passes it whenever the timing exists. Used by the slot offers
(``routing.engine.insertion``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from routing.engine.problem import Break, Problem, Route, Stop, Technician, TimeWindow, Visit


def _earliest(windows: tuple[TimeWindow, ...] | None, lo: int, day_length: int) -> int | None:
    """The earliest service start at or after ``lo`` inside ``windows`` (sorted by start;
    None: open all day)."""
    if windows is None:
        return lo if lo < day_length else None
    for w in windows:
        if w.end >= lo:
            return max(lo, w.start)
    return None


def _departure(
    shift_start: int, stops: list[Stop], first_drive: int, brk: Break | None, gap: int | None
) -> int:
    """Leave home as late as the first stop allows (never before the shift, never after
    a break taken before the first stop)."""
    if not stops:
        return shift_start
    latest = stops[0].start - first_drive
    if gap == 0 and brk is not None:
        break_start = max(shift_start, brk.window.start)
        latest = min(break_start, stops[0].start - first_drive - brk.duration)
    return max(shift_start, latest)


def timetable(
    problem: Problem,
    tech: Technician,
    day: int,
    stops: Sequence[Visit],
    m: np.ndarray,
    not_before: Sequence[int | None] | None = None,
) -> tuple[Route, int] | None:
    """The stops in this order as a feasible route of ``tech`` on ``day``, or None. Each
    stop starts at its earliest time, but not before ``not_before`` (its start in the
    plan being changed); the break goes into the gap that pushes the stops least, then
    brings the technician home earliest. Returns the route and the minutes it pushed.
    ``m`` is the travel matrix over home, the stops, home."""
    shift = tech.shift_on(day)
    if shift is None:
        return None
    if tech.capacity is not None and sum(v.demand for v in stops) > tech.capacity:
        return None
    n, brk, day_length = len(stops), tech.lunch, problem.horizon.day_length
    bounds = list(not_before) if not_before is not None else [None] * n
    drives = [int(m[k, k + 1]) for k in range(n + 1)]
    windows = [
        None if (w := v.windows_on(day)) is None else tuple(sorted(w, key=lambda x: x.start))
        for v in stops
    ]

    def serve(k: int, ready: int) -> tuple[Stop, int] | None:
        bound = bounds[k]
        start = _earliest(windows[k], ready if bound is None else max(ready, bound), day_length)
        if start is None:
            return None
        pushed = 0 if bound is None else start - bound
        return Stop(stops[k].id, ready, start, start + stops[k].service), pushed

    # The stops before the break are timed alike whatever the gap it takes: time them
    # once, without a break, as far as they go.
    prefix: list[Stop] = []
    pushed_by = [0]
    for k in range(n):
        served = serve(k, (prefix[-1].end if prefix else shift.start) + drives[k])
        if served is None:
            break
        prefix.append(served[0])
        pushed_by.append(pushed_by[-1] + served[1])
    gaps: Sequence[int | None] = range(len(prefix) + 1) if brk is not None else [None]
    best: tuple[Route, int] | None = None
    for gap in gaps:
        found = _rest(tech, day, stops, drives, prefix, pushed_by, gap, serve, shift.end)
        if found is not None and (
            best is None or (found[1], found[0].arrival_home) < (best[1], best[0].arrival_home)
        ):
            best = found
    return best


def _rest(
    tech: Technician,
    day: int,
    stops: Sequence[Visit],
    drives: list[int],
    prefix: list[Stop],
    pushed_by: list[int],
    gap: int | None,
    serve: Callable[[int, int], tuple[Stop, int] | None],
    shift_end: int,
) -> tuple[Route, int] | None:
    """The route with the break in ``gap`` (the leg before stop ``gap``; ``len(stops)``:
    before home): the timed ``prefix`` up to it, then each stop as early as allowed."""
    n, brk = len(stops), tech.lunch
    first = n if gap is None else gap
    if first > len(prefix):
        return None
    timed = prefix[:first]
    pushed = pushed_by[first]
    shift_start = tech.shift_on(day).start  # type: ignore[union-attr]
    free = timed[-1].end if timed else shift_start
    break_start: int | None = None
    for k in range(first, n + 1):
        ready = free + drives[k]
        if brk is not None and k == gap:
            break_start = max(free, brk.window.start)
            if break_start > brk.window.end:
                return None
            # The break and this leg's drive both fit between leaving and starting.
            ready = max(ready, break_start) + brk.duration
        if k == n:
            if ready > shift_end:
                return None
            departure = _departure(shift_start, timed, drives[0], brk, gap)
            if tech.max_work is not None and ready - departure > tech.max_work:
                return None
            return Route(tech.id, day, departure, tuple(timed), ready, break_start), pushed
        served = serve(k, ready)
        if served is None:
            return None
        timed.append(served[0])
        pushed += served[1]
        free = served[0].end
    return None  # not reached: the loop returns at k == n
