"""Problem -> OR-Tools routing model, and the pre-checks that explain unservable visits.

One OR-Tools vehicle per (technician, working day). Time is one dimension over the whole
horizon (day ``d`` starts at ``d * day_length``); each vehicle's start and end cumuls are
confined to its day's shift, and each visit's cumul to the union of its windows on its
allowed days, so a visit can only land on a day where it is open.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from ortools.constraint_solver import pywrapcp

from routing.engine.problem import (
    CLOSED_EVERY_DAY,
    NO_SKILLED_TECHNICIAN,
    NO_TECHNICIAN_AVAILABLE,
    PINNED_TECHNICIAN_UNAVAILABLE,
    Problem,
    Unassigned,
    Visit,
    day_windows_abs,
)

# Drive time is multiplied by this in the objective so that fractional priorities and
# per-day lateness weights stay integral; single-day problems without stability costs
# keep a scale of 1 so that benchmark objectives are exact distances.
COST_SCALE = 100
BIG_CAPACITY = 10**9


@dataclass(frozen=True)
class Stability:
    """Re-planning input: each visit's previous (technician id, day) and the move cost."""

    previous: Mapping[str, tuple[str, int]]
    move_cost: int


@dataclass
class Model:
    """A built OR-Tools model plus the index maps needed to read a solution back."""

    problem: Problem
    routing: pywrapcp.RoutingModel
    manager: pywrapcp.RoutingIndexManager
    vehicles: list[tuple[int, int]]  # vehicle -> (technician index, day)
    active: list[int]  # model node -> visit index
    matrix: np.ndarray  # travel matrix over problem.locations()
    cost_scale: int
    time: pywrapcp.RoutingDimension
    allowed: Mapping[int, list[int]] = field(default_factory=dict)  # visit -> vehicles
    # Objective terms per active visit, for constructions outside OR-Tools: the cost of
    # leaving it out, and of serving it on each vehicle beyond the drive (None: none).
    penalty: np.ndarray | None = None
    extra: np.ndarray | None = None
    breaks: dict[int, pywrapcp.IntervalVar] = field(default_factory=dict)
    keep_alive: list[object] = field(default_factory=list)


def vehicle_days(problem: Problem) -> list[tuple[int, int]]:
    """(technician index, day) for every technician-day with a shift."""
    return [
        (t, d)
        for t, tech in enumerate(problem.technicians)
        for d in range(problem.horizon.num_days)
        if tech.shift_on(d) is not None
    ]


def _fits(visit: Visit, problem: Problem, t: int, d: int) -> bool:
    tech = problem.technicians[t]
    shift = tech.shift_on(d)
    if shift is None or not tech.can_do(visit):
        return False
    if visit.pin_technician is not None and visit.pin_technician != tech.id:
        return False
    windows = visit.windows_on(d)
    if windows is None:
        return True
    return any(w.start <= shift.end and w.end >= shift.start for w in windows)


def precheck(
    problem: Problem, vehicles: Sequence[tuple[int, int]]
) -> tuple[dict[int, list[int]], list[Unassigned]]:
    """Allowed vehicles per servable visit index, and reasons for the others."""
    allowed: dict[int, list[int]] = {}
    rejected: list[Unassigned] = []
    tech_ids = {t.id for t in problem.technicians}
    for i, visit in enumerate(problem.visits):
        ok = [k for k, (t, d) in enumerate(vehicles) if _fits(visit, problem, t, d)]
        if ok:
            allowed[i] = ok
            continue
        if not any(t.can_do(visit) for t in problem.technicians):
            reason = NO_SKILLED_TECHNICIAN
        elif all(visit.windows_on(d) == () for d in range(problem.horizon.num_days)):
            reason = CLOSED_EVERY_DAY
        elif visit.pin_technician is not None and (
            visit.pin_technician not in tech_ids
            or not any(problem.technicians[t].id == visit.pin_technician for t, _ in vehicles)
        ):
            reason = PINNED_TECHNICIAN_UNAVAILABLE
        else:
            reason = NO_TECHNICIAN_AVAILABLE
        rejected.append(Unassigned(visit.id, reason))
    return allowed, rejected


def _merged(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(windows):
        if out and s <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def build_model(
    problem: Problem,
    matrix: np.ndarray,
    allowed: Mapping[int, list[int]],
    vehicles: Sequence[tuple[int, int]],
    stability: Stability | None = None,
    unassigned_penalty: int | None = None,
) -> Model:
    """Build the routing model for the visits in ``allowed`` (visit index -> vehicles)."""
    hz = problem.horizon
    techs = problem.technicians
    n_all = len(problem.visits)
    n_t = len(techs)
    active = sorted(allowed)
    n = len(active)
    # Model nodes: active visits, then the starts, then the ends of the technicians that
    # own a vehicle. A technician with no working day owns none, and its home would
    # otherwise be an ordinary node that some route must visit.
    working = sorted({t for t, _ in vehicles})
    slot = {t: j for j, t in enumerate(working)}
    n_w = len(working)
    node_loc = np.array(active + [n_all + t for t in working] + [n_all + n_t + t for t in working])
    travel = matrix[np.ix_(node_loc, node_loc)].astype(np.int64)
    service = np.zeros(len(node_loc), dtype=np.int64)
    service[:n] = [problem.visits[i].service for i in active]
    demand = np.zeros(len(node_loc), dtype=np.int64)
    demand[:n] = [problem.visits[i].demand for i in active]

    starts = [n + slot[t] for t, _ in vehicles]
    ends = [n + n_w + slot[t] for t, _ in vehicles]
    manager = pywrapcp.RoutingIndexManager(len(node_loc), len(vehicles), starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    size = routing.Size()
    idx_node = np.array([manager.IndexToNode(i) for i in range(size + len(vehicles))])

    multi_day = hz.num_days > 1 and problem.costs.lateness_per_day > 0
    scale = COST_SCALE if (multi_day or stability is not None) else 1

    # RegisterTransitMatrix / RegisterUnaryTransitVector take NODE-indexed data (the
    # model maps indexes to nodes itself) and evaluate it in C++, not in Python.
    cost_cb = routing.RegisterTransitMatrix((travel * scale).tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cost_cb)
    time_cb = routing.RegisterTransitMatrix((travel + service[:, None]).tolist())
    horizon_end = hz.num_days * hz.day_length
    routing.AddDimension(time_cb, horizon_end, horizon_end, False, "time")
    time = routing.GetDimensionOrDie("time")

    if demand.any() or any(t.capacity is not None for t in techs):
        caps = [techs[t].capacity or BIG_CAPACITY for t, _ in vehicles]
        dem_cb = routing.RegisterUnaryTransitVector(demand.tolist())
        routing.AddDimensionWithVehicleCapacity(dem_cb, 0, caps, True, "load")

    model = Model(problem, routing, manager, list(vehicles), active, matrix, scale, time, allowed)
    solver = routing.solver()
    node_visit_transit = service[idx_node[:size]].tolist()  # per routing index
    for k, (t, d) in enumerate(vehicles):
        tech = techs[t]
        shift = tech.shift_on(d)
        assert shift is not None
        off = d * hz.day_length
        for var in (time.CumulVar(routing.Start(k)), time.CumulVar(routing.End(k))):
            var.SetRange(off + shift.start, off + shift.end)
        if tech.max_work is not None:
            time.SetSpanUpperBoundForVehicle(tech.max_work, k)
        if tech.lunch is not None:
            lw = tech.lunch.window
            brk = solver.FixedDurationIntervalVar(
                off + lw.start, off + lw.end, tech.lunch.duration, False, f"lunch_{k}"
            )
            model.breaks[k] = brk
            time.SetBreakIntervalsOfVehicle([brk], k, node_visit_transit)
        # Compact routes: leave as late as possible, come back as early as possible.
        routing.AddVariableMaximizedByFinalizer(time.CumulVar(routing.Start(k)))
        routing.AddVariableMinimizedByFinalizer(time.CumulVar(routing.End(k)))

    per_vehicle_extra = _extra_costs(problem, active, vehicles, stability, scale)
    model.extra = per_vehicle_extra
    if per_vehicle_extra is not None:
        cbs = []
        for k in range(len(vehicles)):
            vec = np.zeros(len(node_loc), dtype=np.int64)
            vec[:n] = per_vehicle_extra[:, k]
            cbs.append(routing.RegisterUnaryTransitVector(vec.tolist()))
        cap = int(per_vehicle_extra.sum()) + 1
        routing.AddDimensionWithVehicleTransits(cbs, 0, cap, True, "extra_cost")
        routing.GetDimensionOrDie("extra_cost").SetSpanCostCoefficientForAllVehicles(1)

    model.penalty = np.zeros(n, dtype=np.int64)
    for pos, i in enumerate(active):
        visit = problem.visits[i]
        index = manager.NodeToIndex(pos)
        days = sorted({vehicles[k][1] for k in allowed[i]})
        wins = _merged([w for d in days for w in day_windows_abs(visit, d, hz)])
        var = time.CumulVar(index)
        var.SetRange(wins[0][0], wins[-1][1])
        for (_, e1), (s2, _) in itertools.pairwise(wins):
            var.RemoveInterval(e1 + 1, s2 - 1)
        if len(allowed[i]) < len(vehicles):
            # SetAllowedVehiclesForIndex's SWIG binding rejects Python lists in 9.15.
            routing.VehicleVar(index).SetValues([-1, *allowed[i]])
        penalty = unassigned_penalty
        if penalty is None:
            penalty = round(visit.priority * problem.costs.unassigned * scale)
            if visit.pin_technician is not None and visit.pin_day is not None:
                penalty *= 100  # frozen visits are dropped only if truly impossible
        model.penalty[pos] = max(1, penalty)
        routing.AddDisjunction([index], max(1, penalty))
    return model


def _extra_costs(
    problem: Problem,
    active: list[int],
    vehicles: Sequence[tuple[int, int]],
    stability: Stability | None,
    scale: int,
) -> np.ndarray | None:
    """Per (visit, vehicle) cost: lateness by priority per day late, plus moves.

    Charged through a dimension whose per-vehicle transit is this unary cost and whose
    span cost coefficient is 1, so each served visit pays exactly its (visit, vehicle)
    entry once.
    """
    days = np.array([d for _, d in vehicles])
    latest = np.array([problem.visits[i].latest_day for i in active])
    prio = np.array([problem.visits[i].priority for i in active])
    late_days = np.maximum(0, days[None, :] - latest[:, None])
    extra = late_days * prio[:, None] * problem.costs.lateness_per_day * scale
    if stability is not None:
        tech_ids = [problem.technicians[t].id for t, _ in vehicles]
        for pos, i in enumerate(active):
            prev = stability.previous.get(problem.visits[i].id)
            if prev is None:
                continue
            moved = np.array(
                [(tid, d) != prev for tid, (_, d) in zip(tech_ids, vehicles, strict=True)]
            )
            extra[pos] += moved * stability.move_cost * scale
    # Only differences between vehicles steer the search; a cost every vehicle pays (a
    # visit whose previous technician-day is gone) is dropped. This also sidesteps an
    # OR-Tools 9.15 failure (no solution at all, even all-unperformed) seen when two or
    # more nodes carry a non-zero transit on every vehicle of such a dimension.
    extra -= extra.min(axis=1, keepdims=True)
    extra = np.rint(extra).astype(np.int64)
    return extra if extra.any() else None
