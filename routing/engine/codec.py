"""Problems and plans as JSON-ready dicts, so one solve can be handed to another process
(a territory job on another machine) and its plan handed back.

The travel provider is not encoded: the reader supplies one (the same settings give
the same matrix). Everything else round-trips exactly: ``problem_from_dict(
problem_to_dict(p), p.travel) == p``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from routing.engine.problem import (
    Break,
    CostWeights,
    Horizon,
    Location,
    Plan,
    Problem,
    Route,
    Stop,
    Technician,
    TimeWindow,
    TravelTimeProvider,
    Unassigned,
    Visit,
)


def _window(w: TimeWindow | None) -> list[int] | None:
    return None if w is None else [w.start, w.end]


def _windows(ws: tuple[TimeWindow, ...]) -> list[list[int]]:
    return [[w.start, w.end] for w in ws]


def _read_window(data: list[int] | None) -> TimeWindow | None:
    return None if data is None else TimeWindow(data[0], data[1])


def _read_windows(data: list[list[int]]) -> tuple[TimeWindow, ...]:
    return tuple(TimeWindow(s, e) for s, e in data)


def _location(loc: Location) -> list[float]:
    return [loc.lat, loc.lon]


def visit_to_dict(v: Visit) -> dict[str, Any]:
    return {
        "id": v.id,
        "location": _location(v.location),
        "service": v.service,
        "windows": _windows(v.windows),
        "day_windows": [[d, _windows(ws)] for d, ws in sorted(v.day_windows.items())],
        "days": None if v.days is None else sorted(v.days),
        "skill": v.skill,
        "priority": v.priority,
        "latest_day": v.latest_day,
        "demand": v.demand,
        "pin_technician": v.pin_technician,
        "pin_day": v.pin_day,
        "pin_window": _window(v.pin_window),
    }


def visit_from_dict(d: dict[str, Any]) -> Visit:
    return Visit(
        id=d["id"],
        location=Location(*d["location"]),
        service=d["service"],
        windows=_read_windows(d["windows"]),
        day_windows={day: _read_windows(ws) for day, ws in d["day_windows"]},
        days=None if d["days"] is None else frozenset(d["days"]),
        skill=d["skill"],
        priority=d["priority"],
        latest_day=d["latest_day"],
        demand=d["demand"],
        pin_technician=d["pin_technician"],
        pin_day=d["pin_day"],
        pin_window=_read_window(d["pin_window"]),
    )


def technician_to_dict(t: Technician) -> dict[str, Any]:
    return {
        "id": t.id,
        "start": _location(t.start),
        "end": None if t.end is None else _location(t.end),
        "shift": _window(t.shift),
        "day_shifts": [[d, _window(w)] for d, w in sorted(t.day_shifts.items())],
        "days_off": sorted(t.days_off),
        "skills": sorted(t.skills),
        "max_work": t.max_work,
        "lunch": None
        if t.lunch is None
        else {"duration": t.lunch.duration, "window": _window(t.lunch.window)},
        "capacity": t.capacity,
    }


def technician_from_dict(d: dict[str, Any]) -> Technician:
    lunch = d["lunch"]
    return Technician(
        id=d["id"],
        start=Location(*d["start"]),
        end=None if d["end"] is None else Location(*d["end"]),
        shift=TimeWindow(*d["shift"]),
        day_shifts={day: TimeWindow(*w) for day, w in d["day_shifts"]},
        days_off=frozenset(d["days_off"]),
        skills=frozenset(d["skills"]),
        max_work=d["max_work"],
        lunch=None if lunch is None else Break(lunch["duration"], TimeWindow(*lunch["window"])),
        capacity=d["capacity"],
    )


def problem_to_dict(problem: Problem) -> dict[str, Any]:
    """Everything of ``problem`` but its travel provider."""
    hz = problem.horizon
    return {
        "visits": [visit_to_dict(v) for v in problem.visits],
        "technicians": [technician_to_dict(t) for t in problem.technicians],
        "horizon": {
            "num_days": hz.num_days,
            "day_length": hz.day_length,
            "first_day": None if hz.first_day is None else hz.first_day.isoformat(),
        },
        "costs": {
            "unassigned": problem.costs.unassigned,
            "lateness_per_day": problem.costs.lateness_per_day,
        },
    }


def problem_from_dict(data: dict[str, Any], travel: TravelTimeProvider) -> Problem:
    """The problem ``problem_to_dict`` encoded, travelling with ``travel``."""
    hz = data["horizon"]
    return Problem(
        visits=tuple(visit_from_dict(v) for v in data["visits"]),
        technicians=tuple(technician_from_dict(t) for t in data["technicians"]),
        horizon=Horizon(
            num_days=hz["num_days"],
            day_length=hz["day_length"],
            first_day=None if hz["first_day"] is None else date.fromisoformat(hz["first_day"]),
        ),
        travel=travel,
        costs=CostWeights(**data["costs"]),
    )


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return {
        "routes": [
            {
                "technician": r.technician_id,
                "day": r.day,
                "departure": r.departure,
                "arrival_home": r.arrival_home,
                "break_start": r.break_start,
                "stops": [[s.visit_id, s.arrival, s.start, s.end] for s in r.stops],
            }
            for r in plan.routes
        ],
        "unassigned": [[u.visit_id, u.reason] for u in plan.unassigned],
        "drive_time": plan.drive_time,
        "objective": plan.objective,
    }


def plan_from_dict(data: dict[str, Any]) -> Plan:
    return Plan(
        routes=tuple(
            Route(
                r["technician"],
                r["day"],
                r["departure"],
                tuple(Stop(*s) for s in r["stops"]),
                r["arrival_home"],
                r["break_start"],
            )
            for r in data["routes"]
        ),
        unassigned=tuple(Unassigned(v, reason) for v, reason in data["unassigned"]),
        drive_time=data["drive_time"],
        objective=data["objective"],
    )
