"""Problems and plans survive the trip through JSON (to a territory job and back)."""

from __future__ import annotations

import json
from datetime import date

from routing.engine.codec import plan_from_dict, plan_to_dict, problem_from_dict, problem_to_dict
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
    Unassigned,
    Visit,
)
from routing.engine.travel import EuclideanProvider


def test_a_problem_with_every_field_set_round_trips_through_json():
    travel = EuclideanProvider()
    p = Problem(
        visits=(
            Visit(
                "v1",
                Location(60.1, 24.9),
                30,
                windows=(TimeWindow(480, 600), TimeWindow(780, 900)),
                day_windows={1: (), 2: (TimeWindow(500, 520),)},
                days=frozenset({0, 2}),
                skill="OU-200",
                priority=1.5,
                latest_day=2,
                demand=3,
                pin_technician="t1",
                pin_day=2,
                pin_window=TimeWindow(510, 510),
            ),
            Visit("v2", Location(61.0, 25.0), 10),
        ),
        technicians=(
            Technician(
                "t1",
                Location(60.0, 24.0),
                end=Location(60.5, 24.5),
                shift=TimeWindow(420, 960),
                day_shifts={1: TimeWindow(480, 720)},
                days_off=frozenset({3}),
                skills=frozenset({"OU-200", "OU-300"}),
                max_work=480,
                lunch=Break(30, TimeWindow(660, 750)),
                capacity=12,
            ),
            Technician("t2", Location(61.0, 24.0)),
        ),
        horizon=Horizon(num_days=4, day_length=1440, first_day=date(2026, 11, 30)),
        travel=travel,
        costs=CostWeights(unassigned=999, lateness_per_day=7),
    )
    data = json.loads(json.dumps(problem_to_dict(p)))
    assert problem_from_dict(data, travel) == p


def test_a_plan_round_trips_through_json():
    plan = Plan(
        (Route("t1", 2, 450, (Stop("v1", 500, 510, 540),), 600, 560),),
        (Unassigned("v2", "no_skilled_technician"),),
        drive_time=120,
        objective=12_345,
    )
    assert plan_from_dict(json.loads(json.dumps(plan_to_dict(plan)))) == plan
