"""The routing engine: multi-day technician routing with time windows, skills, breaks and
priorities on OR-Tools, with an independent validator. Pure: standard library, numpy and
OR-Tools only; it knows no database, no web framework and nothing else of the project.

This module is the engine's whole public face: everything outside ``routing.engine``
(the planner, the benchmarks) imports from here, never from the modules behind it.
"""

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
from routing.engine.solver import SolverOptions, solve
from routing.engine.territories import DEFAULT_MAX_VISITS, solve_territories, split
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
    "kept_share",
    "replan",
    "resolve",
    "slot_offers",
    "solve",
    "solve_territories",
    "split",
    "validate",
    "without_visit",
]
