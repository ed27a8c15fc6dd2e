"""Reference solvers for the routing benchmarks: plain OR-Tools and VROOM.

``plain_ortools`` and ``vroom_solve`` (benchmarks/solomon.py) read the same Problem and
travel matrix as fieldrecall's solver and return the total distance (DIMACS units) and
the number of customers left out, or None. ``vroom_plan`` (benchmarks/field_plan.py)
gives VROOM a whole field problem (vehicle-days, time windows, skills, lunch breaks)
and reads its answer back as a routing Plan, so the same validator checks it.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routing.engine import INSUFFICIENT_CAPACITY, Plan, Problem, Route, Stop, Unassigned


def plain_ortools(problem: Problem, matrix: np.ndarray, seconds: float) -> tuple[int, int] | None:
    """OR-Tools out of the box: parallel cheapest insertion + guided local search."""
    n = len(problem.visits)
    depot = problem.technicians[0]
    v = len(problem.technicians)
    # Node 0 is the depot (the first technician's start), customers follow.
    order = [n, *list(range(n))]
    m = matrix[np.ix_(order, order)]
    service = np.array([0] + [x.service for x in problem.visits])
    manager = pywrapcp.RoutingIndexManager(n + 1, v, 0)
    routing = pywrapcp.RoutingModel(manager)
    idx_node = [manager.IndexToNode(i) for i in range(routing.Size() + v)]
    by_index = m[np.ix_(idx_node, idx_node)]
    cost = routing.RegisterTransitMatrix(by_index.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cost)
    tt = routing.RegisterTransitMatrix((by_index + service[idx_node][:, None]).tolist())
    horizon = depot.shift.end
    routing.AddDimension(tt, horizon, horizon, False, "time")
    time = routing.GetDimensionOrDie("time")
    demand = [0] + [x.demand for x in problem.visits]
    dem = routing.RegisterUnaryTransitVector([demand[i] for i in idx_node])
    routing.AddDimensionWithVehicleCapacity(dem, 0, [depot.capacity or 10**9] * v, True, "load")
    for i, visit in enumerate(problem.visits):
        w = visit.windows[0]
        time.CumulVar(manager.NodeToIndex(i + 1)).SetRange(w.start, w.end)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    )
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(int(seconds * 1000))
    sol = routing.SolveWithParameters(params)
    if sol is None:
        return None
    return int(sol.ObjectiveValue()), 0


def vroom_solve(problem: Problem, matrix: np.ndarray, exploration: int = 5) -> tuple[int, int]:
    """VROOM (pyvroom) at the given exploration level, one thread, run to completion."""
    import vroom  # the optional bench extra (`make bench`), needed here only

    n = len(problem.visits)
    order = [n, *list(range(n))]
    m = matrix[np.ix_(order, order)].astype(np.uint32)
    inp = vroom.Input()
    inp.set_durations_matrix(profile="car", matrix_input=m)
    for k, tech in enumerate(problem.technicians):
        inp.add_vehicle(
            vroom.Vehicle(
                id=k,
                start=0,
                end=0,
                capacity=[tech.capacity or 10**6],
                time_window=vroom.TimeWindow(tech.shift.start, tech.shift.end),
            )
        )
    for i, visit in enumerate(problem.visits):
        w = visit.windows[0]
        inp.add_job(
            vroom.Job(
                id=i + 1,
                location=i + 1,
                default_service=visit.service,
                delivery=[visit.demand],
                time_windows=[vroom.TimeWindow(w.start, w.end)],
            )
        )
    sol = inp.solve(exploration_level=exploration, nb_threads=1)
    served = int((sol.routes["type"] == "job").sum())
    return int(sol.summary.cost), n - served


def vroom_plan(
    problem: Problem,
    matrix: np.ndarray,
    *,
    exploration: int = 5,
    threads: int = 2,
    timeout_s: float | None = None,
) -> Plan:
    """VROOM on a multi-day field problem: one vehicle per technician-day (its shift,
    skills and lunch break, which must start in its window), each job with its
    service-start windows over the whole horizon. VROOM has no soft deadline, so the
    plan minimises driving alone; priorities only rank which jobs to leave out."""
    import vroom  # the optional bench extra (`make bench`), needed here only

    hz = problem.horizon
    n_v, n_t = len(problem.visits), len(problem.technicians)
    inp = vroom.Input()
    inp.set_durations_matrix(profile="car", matrix_input=matrix.astype(np.uint32))
    skills = {s: k for k, s in enumerate(sorted({v.skill for v in problem.visits if v.skill}))}
    vehicles = [
        (t, d)
        for t, tech in enumerate(problem.technicians)
        for d in range(hz.num_days)
        if tech.shift_on(d) is not None
    ]
    for k, (t, d) in enumerate(vehicles):
        tech, off = problem.technicians[t], d * hz.day_length
        shift = tech.shift_on(d)
        assert shift is not None
        breaks = []
        if tech.lunch is not None:
            window = vroom.TimeWindow(off + tech.lunch.window.start, off + tech.lunch.window.end)
            breaks = [vroom.Break(k, time_windows=[window], service=tech.lunch.duration)]
        end = off + shift.end
        if tech.max_work is not None:
            end = min(end, off + shift.start + tech.max_work)
        inp.add_vehicle(
            vroom.Vehicle(
                id=k,
                start=n_v + t,
                end=n_v + n_t + t,
                skills={skills[s] for s in tech.skills if s in skills},
                time_window=vroom.TimeWindow(off + shift.start, end),
                breaks=breaks,
            )
        )
    for i, v in enumerate(problem.visits):
        windows = []
        for d in range(hz.num_days):
            off = d * hz.day_length
            on = v.windows_on(d)
            spans = [(0, hz.day_length - 1)] if on is None else [(w.start, w.end) for w in on]
            windows += [vroom.TimeWindow(off + a, off + b) for a, b in spans]
        if windows:
            inp.add_job(
                vroom.Job(
                    id=i,
                    location=i,
                    default_service=v.service,
                    skills={skills[v.skill]} if v.skill else set(),
                    priority=min(100, round(v.priority * 20)),
                    time_windows=windows,
                )
            )
    timeout = None if timeout_s is None else timedelta(seconds=timeout_s)
    solution = inp.solve(exploration_level=exploration, nb_threads=threads, timeout=timeout)
    routes: list[Route] = []
    served: set[int] = set()
    for k, steps in solution.routes.groupby("vehicle_id"):
        t, d = vehicles[int(k)]
        off = d * hz.day_length
        stops: list[Stop] = []
        departure = home = 0
        break_start = None
        for step in steps.itertuples():
            arrival = int(step.arrival) - off
            if step.type == "start":
                departure = arrival
            elif step.type == "end":
                home = arrival
            elif step.type == "break":
                break_start = arrival + int(step.waiting_time)
            elif step.type == "job":
                visit = problem.visits[int(step.id)]
                start = arrival + int(step.waiting_time)
                stops.append(Stop(visit.id, arrival, start, start + visit.service))
                served.add(int(step.id))
        if stops:
            routes.append(
                Route(problem.technicians[t].id, d, departure, tuple(stops), home, break_start)
            )
    drive = 0
    index = {v.id: i for i, v in enumerate(problem.visits)}
    tech_index = {t.id: k for k, t in enumerate(problem.technicians)}
    for r in routes:
        t = tech_index[r.technician_id]
        nodes = [n_v + t] + [index[s.visit_id] for s in r.stops] + [n_v + n_t + t]
        drive += int(sum(matrix[a, b] for a, b in itertools.pairwise(nodes)))
    unassigned = tuple(
        Unassigned(v.id, INSUFFICIENT_CAPACITY)
        for i, v in enumerate(problem.visits)
        if i not in served
    )
    return Plan(tuple(routes), unassigned, drive)
