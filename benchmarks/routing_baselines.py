"""Reference solvers for benchmarks/solomon.py: plain OR-Tools and VROOM.

Both read the same Problem and travel matrix as fieldrecall's solver and return the
total distance (DIMACS units) and the number of customers left out, or None.
"""

from __future__ import annotations

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routing.engine import Problem


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
    import vroom

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
