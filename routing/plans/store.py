"""Writing a solved plan: technician-day routes, ordered stops with the arrival window
promised to the partner, and the visits left out with the solver's reason.

The promise: a window of ``window_minutes`` starting at the planned service start rounded
down to ``step_minutes`` (planning zone). A visit whose partner already holds a promise
for that date that still contains the new start keeps its promise, so a re-plan that
shifts a stop by a few minutes tells nobody anything new.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert
from sqlalchemy.orm import Session

from recall.campaigns.planning import VisitForPlanning
from routing.engine import Plan, Problem, haversine_km
from routing.plans.models import FieldPlan, PlanRoute, PlanStop, PlanUnassigned
from routing.plans.problem import Calendar


@dataclass(frozen=True)
class Promise:
    window_minutes: int = 120
    step_minutes: int = 60

    def window(self, cal: Calendar, day: int, start: int) -> tuple[datetime, datetime]:
        first = (start // self.step_minutes) * self.step_minutes
        begin = cal.instant(day, first)
        return begin, begin + timedelta(minutes=self.window_minutes)


def store_plan(
    session: Session,
    *,
    plan_row: FieldPlan,
    problem: Problem,
    plan: Plan,
    matrix: np.ndarray | None,
    cal: Calendar,
    visits: list[VisitForPlanning],
    promise: Promise,
    circuity: float,
) -> dict[str, float]:
    """Insert the plan's rows; returns totals (distance km, work minutes) for the stats.

    Drive minutes per leg come from ``matrix`` (over ``problem.locations()``), or, for a
    plan joined from territories, from the provider for each route's own locations.
    """
    locations = problem.locations()
    index = {v.id: i for i, v in enumerate(problem.visits)}
    tech_index = {t.id: i for i, t in enumerate(problem.technicians)}
    by_id = {str(v.visit_id): v for v in visits}
    n_v, n_t = len(problem.visits), len(problem.technicians)
    total_km = 0.0
    total_work = 0
    # Rows are inserted in bulk (one statement per table; routes return their ids in
    # order): a 10,000-visit plan took 7 s row by row.
    route_rows: list[dict[str, Any]] = []
    stop_rows: list[list[dict[str, Any]]] = []
    for route in sorted(plan.routes, key=lambda r: (r.day, int(r.technician_id))):
        t = tech_index[route.technician_id]
        tech = problem.technicians[t]
        legs = [n_v + t] + [index[s.visit_id] for s in route.stops] + [n_v + n_t + t]
        route_locations = [locations[i] for i in legs]
        km = haversine_km(route_locations) * circuity
        if matrix is None:
            route_m = np.asarray(problem.travel.matrix(route_locations))
            drive = [int(route_m[j, j + 1]) for j in range(len(legs) - 1)]
        else:
            drive = [int(matrix[a, b]) for a, b in itertools.pairwise(legs)]
        dist = [float(km[j, j + 1]) for j in range(len(legs) - 1)]
        work = sum(s.end - s.start for s in route.stops)
        route_rows.append(
            {
                "plan_id": plan_row.id,
                "technician_id": int(route.technician_id),
                "day": cal.day(route.day),
                "departure": cal.instant(route.day, route.departure),
                "return_at": cal.instant(route.day, route.arrival_home),
                "break_start": (
                    None if route.break_start is None else cal.instant(route.day, route.break_start)
                ),
                "break_minutes": (
                    tech.lunch.duration if tech.lunch and route.break_start is not None else 0
                ),
                "drive_minutes": sum(drive),
                "distance_km": round(sum(dist), 2),
                "work_minutes": work,
            }
        )
        total_km += sum(dist)
        total_work += work
        stops = []
        for seq, stop in enumerate(route.stops, start=1):
            start = cal.instant(route.day, stop.start)
            window = promise.window(cal, route.day, stop.start)
            held = by_id.get(stop.visit_id)
            if (
                held is not None
                and held.scheduled_date == cal.day(route.day)
                and held.window_start is not None
                and held.window_end is not None
                and held.window_start <= start <= held.window_end
            ):
                window = (held.window_start, held.window_end)
            stops.append(
                {
                    "plan_id": plan_row.id,
                    "visit_request_id": int(stop.visit_id),
                    "seq": seq,
                    "arrival": cal.instant(route.day, stop.arrival),
                    "service_start": start,
                    "service_end": cal.instant(route.day, stop.end),
                    "window_start": window[0],
                    "window_end": window[1],
                    "drive_minutes_before": drive[seq - 1],
                    "distance_km_before": round(dist[seq - 1], 2),
                }
            )
        stop_rows.append(stops)
    if route_rows:
        route_ids = session.scalars(
            insert(PlanRoute).returning(PlanRoute.id, sort_by_parameter_order=True), route_rows
        ).all()
        rows = [
            {**stop, "route_id": route_id}
            for route_id, stops in zip(route_ids, stop_rows, strict=True)
            for stop in stops
        ]
        if rows:
            session.execute(insert(PlanStop), rows)
    if plan.unassigned:
        session.execute(
            insert(PlanUnassigned),
            [
                {"plan_id": plan_row.id, "visit_request_id": int(u.visit_id), "reason": u.reason}
                for u in plan.unassigned
            ],
        )
    return {"distance_km": round(total_km, 1), "work_minutes": total_work}
