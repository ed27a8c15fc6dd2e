"""The routing engine: multi-day technician routing with time windows, skills, breaks and
priorities on OR-Tools, with an independent validator. Pure: standard library, numpy and
OR-Tools only; it knows no database, no web framework and nothing else of the project.

``solve`` plans a problem (large ones by construction and route-based decomposition);
``split``, ``restrict`` and ``join`` let territories of one problem be solved anywhere
(``problem_to_dict`` and ``plan_to_dict`` carry them there and back); ``replan`` and
``resolve`` re-plan; ``validate`` checks any plan.

This module is the engine's whole public face: everything outside ``routing.engine``
(the planner, the benchmarks) imports from here, never from the modules behind it.
"""

from routing.engine.border import join
from routing.engine.codec import plan_from_dict, plan_to_dict, problem_from_dict, problem_to_dict
from routing.engine.insertion import (
    Insertion,
    SlotOffer,
    apply_insertion,
    insertions,
    slot_offers,
    without_visit,
)
from routing.engine.problem import (
    CLOSED_EVERY_DAY,
    INSUFFICIENT_CAPACITY,
    NO_SKILLED_TECHNICIAN,
    NO_TECHNICIAN_AVAILABLE,
    PINNED_TECHNICIAN_UNAVAILABLE,
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
from routing.engine.replan import (
    DEFAULT_REPLAN_OPTIONS,
    Change,
    apply_change,
    kept_share,
    replan,
    resolve,
)
from routing.engine.search import solve
from routing.engine.solver import REGRET_INSERTION, SolverOptions
from routing.engine.territories import (
    DEFAULT_MAX_VISITS,
    join_seconds,
    restrict,
    solve_territories,
    split,
    territory_count,
    territory_seconds,
)
from routing.engine.travel import (
    EuclideanProvider,
    HaversineProvider,
    MatrixProvider,
    OsrmProvider,
    PrecomputedMatrix,
    haversine_km,
)
from routing.engine.validator import Violation, validate

__all__ = [
    "CLOSED_EVERY_DAY",
    "DEFAULT_MAX_VISITS",
    "DEFAULT_REPLAN_OPTIONS",
    "INSUFFICIENT_CAPACITY",
    "NO_SKILLED_TECHNICIAN",
    "NO_TECHNICIAN_AVAILABLE",
    "PINNED_TECHNICIAN_UNAVAILABLE",
    "REGRET_INSERTION",
    "Break",
    "Change",
    "CostWeights",
    "EuclideanProvider",
    "HaversineProvider",
    "Horizon",
    "Insertion",
    "Location",
    "MatrixProvider",
    "OsrmProvider",
    "Plan",
    "PrecomputedMatrix",
    "Problem",
    "Route",
    "SlotOffer",
    "SolverOptions",
    "Stop",
    "Technician",
    "TimeWindow",
    "TravelTimeProvider",
    "Unassigned",
    "Violation",
    "Visit",
    "apply_change",
    "apply_insertion",
    "haversine_km",
    "insertions",
    "join",
    "join_seconds",
    "kept_share",
    "plan_from_dict",
    "plan_to_dict",
    "problem_from_dict",
    "problem_to_dict",
    "replan",
    "resolve",
    "restrict",
    "slot_offers",
    "solve",
    "solve_territories",
    "split",
    "territory_count",
    "territory_seconds",
    "validate",
    "without_visit",
]
