"""Synthetic field-service instance for benchmarks/field_plan.py (seeded, reproducible).

Sites cluster around towns in a 300 km x 300 km region; most open Mo-Fr 08:00-17:00,
some split their day (08:00-12:00, 14:00-18:00), some close one weekday, some only open
mornings. Technicians live spread over the region, work 08:00-17:00 with a 30-minute
lunch starting between 11:30 and 13:30, know two of three hardware models, and work
10 days (two weeks). Higher-priority visits have earlier latest days.
"""

from __future__ import annotations

import numpy as np

from routing.engine import (
    Break,
    CostWeights,
    HaversineProvider,
    Horizon,
    Location,
    Plan,
    Problem,
    Technician,
    TimeWindow,
    Visit,
)

CENTRE = (46.5, 2.5)
KM_PER_DEG_LAT = 111.0
MODELS = ("A", "B", "C")


def _to_latlon(x_km: np.ndarray, y_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat = CENTRE[0] + y_km / KM_PER_DEG_LAT
    lon = CENTRE[1] + x_km / (KM_PER_DEG_LAT * np.cos(np.radians(CENTRE[0])))
    return lat, lon


def field_instance(
    n_visits: int = 2000,
    n_techs: int = 25,
    n_days: int = 10,
    size_km: float = 300.0,
    seed: int = 7,
) -> Problem:
    """A reproducible field instance of the requested size."""
    rng = np.random.default_rng(seed)
    half = size_km / 2
    towns = rng.uniform(-half * 0.9, half * 0.9, size=(max(8, n_visits // 30), 2))
    weights = rng.pareto(1.5, len(towns)) + 1
    town = rng.choice(len(towns), size=n_visits, p=weights / weights.sum())
    pts = np.clip(towns[town] + rng.normal(0, 6.0, size=(n_visits, 2)), -half, half)
    lat, lon = _to_latlon(pts[:, 0], pts[:, 1])
    morning, afternoon = TimeWindow(8 * 60, 12 * 60), TimeWindow(14 * 60, 18 * 60)
    day_shape = TimeWindow(8 * 60, 17 * 60)
    visits = []
    for i in range(n_visits):
        kind = rng.random()
        windows: tuple[TimeWindow, ...] = (day_shape,)
        day_windows: dict[int, tuple[TimeWindow, ...]] = {}
        if kind < 0.2:
            windows = (morning, afternoon)
        elif kind < 0.3:
            windows = (TimeWindow(8 * 60, 12 * 60 + 30),)
        elif kind < 0.45:
            closed = int(rng.integers(0, 5))  # a weekday off, both weeks
            day_windows = {d: () for d in range(n_days) if d % 5 == closed}
        prio = int(rng.choice([1, 2, 3, 4, 5], p=[0.35, 0.25, 0.2, 0.12, 0.08]))
        latest = {5: 1, 4: 3, 3: 5}.get(prio, n_days - 1)
        visits.append(
            Visit(
                id=f"s{i:05d}",
                location=Location(float(lat[i]), float(lon[i])),
                service=int(rng.choice([15, 20, 30, 30, 45])),
                windows=windows,
                day_windows=day_windows,
                skill=MODELS[int(rng.integers(0, 3))],
                priority=float(prio),
                latest_day=latest,
            )
        )
    homes = rng.uniform(-half * 0.85, half * 0.85, size=(n_techs, 2))
    hlat, hlon = _to_latlon(homes[:, 0], homes[:, 1])
    techs = []
    for t in range(n_techs):
        missing = MODELS[t % 3]
        techs.append(
            Technician(
                id=f"t{t:02d}",
                start=Location(float(hlat[t]), float(hlon[t])),
                shift=TimeWindow(8 * 60, 17 * 60),
                skills=frozenset(m for m in MODELS if m != missing),
                max_work=9 * 60,
                lunch=Break(30, TimeWindow(11 * 60 + 30, 13 * 60 + 30)),
            )
        )
    return Problem(
        visits=tuple(visits),
        technicians=tuple(techs),
        horizon=Horizon(num_days=n_days),
        travel=HaversineProvider(circuity=1.3, speed_kmh=70.0),
        costs=CostWeights(unassigned=24 * 60, lateness_per_day=30),
    )


def plan_cost(problem: Problem, plan: Plan) -> float:
    """The objective recomputed from the plan alone, in minutes of driving.

    Drive time, plus each unassigned visit's priority-scaled penalty, plus lateness by
    priority per day late: the same terms the solver minimises, but independent of how
    a solver (whole or split) scaled or shifted them internally.
    """
    costs = problem.costs
    visits = {v.id: v for v in problem.visits}
    late = sum(
        max(0, day - visits[vid].latest_day) * visits[vid].priority
        for vid, (_, day) in plan.assignment().items()
    )
    dropped = sum(visits[u.visit_id].priority for u in plan.unassigned)
    return plan.drive_time + costs.unassigned * dropped + costs.lateness_per_day * late
