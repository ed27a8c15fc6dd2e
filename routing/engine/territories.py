"""Large instances: split into territories, solve each on its own, join and repair.

Technicians are grouped by their home locations (k-means in travel time, seeded
deterministically, with balanced group sizes); each visit goes to the nearest
technician able to serve it, under a workload quota proportional to his working days
(the visits whose second choice is worst first), and with him to his territory.

The split needs travel times from homes only (homes to homes and to visits), never the
whole matrix: 10,000 visits would make it 800 MB. Each territory is then an ordinary
problem of its own (``restrict``), solved where it is convenient: in a process pool
here (``solve_territories``), or as one job per territory on any number of workers
(``routing.plans``); ``routing.engine.border.join`` puts the plans back together and
offers the visits a territory had no room for to the neighbouring technicians.
"""

from __future__ import annotations

import dataclasses
import math
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from routing.engine.border import join
from routing.engine.problem import Plan, Problem
from routing.engine.search import solve
from routing.engine.solver import SolverOptions
from routing.engine.travel import PrecomputedMatrix, home_matrices

# Territory size. OR-Tools' first solution grows roughly with visits squared times
# vehicles: on the field benchmark (10 days) 400 visits and 5 technicians take 4-8 s,
# 1,000 visits and 13 technicians 73 s (local cheapest insertion) or more, which left a
# 100 s budget with no plan at all. 400 keeps most of the budget for the search.
DEFAULT_MAX_VISITS = 400
# A technician's share of the visits may exceed his share of the working days by this
# factor: those near home are cheaper to serve than his average.
QUOTA_SLACK = 1.1


def territory_count(problem: Problem, max_visits: int = DEFAULT_MAX_VISITS) -> int:
    """How many territories ``problem`` is split into (1: solved whole)."""
    k = math.ceil(len(problem.visits) / max_visits)
    return max(1, min(k, len(problem.technicians)))


def able(problem: Problem) -> np.ndarray:
    """visit x technician: may the technician serve the visit on some day both work?

    Skills, pins and open days only (not each window against each shift): a quick
    screen for the split; the solver's own check gives the reasons.
    """
    n_days = problem.horizon.num_days
    works = np.array(
        [[t.shift_on(d) is not None for d in range(n_days)] for t in problem.technicians],
        dtype=bool,
    ).reshape(len(problem.technicians), n_days)
    opens = np.array(
        [[v.windows_on(d) != () for d in range(n_days)] for v in problem.visits], dtype=bool
    ).reshape(len(problem.visits), n_days)
    out = (opens.astype(np.int32) @ works.T.astype(np.int32)) > 0
    tech_ids = [t.id for t in problem.technicians]
    for i, v in enumerate(problem.visits):
        if v.skill is not None:
            out[i] &= [v.skill in t.skills for t in problem.technicians]
        if v.pin_technician is not None:
            out[i] &= [tid == v.pin_technician for tid in tech_ids]
    return out


def _tech_groups(homes: np.ndarray, k: int) -> list[list[int]]:
    """Balanced k-medoid-like grouping of technicians by home-to-home travel time."""
    n_t = len(homes)
    d = (homes + homes.T) / 2
    # Farthest-point seeding from technician 0: deterministic and well spread.
    centres = [0]
    while len(centres) < k:
        centres.append(int(np.argmax(d[:, centres].min(axis=1))))
    size = math.ceil(n_t / k)
    groups: list[list[int]] = []
    for _ in range(10):
        groups = [[] for _ in range(k)]
        order = np.argsort(d[:, centres].min(axis=1))[::-1]  # hardest first
        for t in order:
            for g in np.argsort(d[t, centres]):
                if len(groups[g]) < size:
                    groups[g].append(int(t))
                    break
        new = [g[int(np.argmin(d[np.ix_(g, g)].sum(axis=1)))] for g in groups]
        if new == centres:
            break
        centres = new
    return [sorted(g) for g in groups if g]


def split(
    problem: Problem, k: int, *, matrix: np.ndarray | None = None
) -> list[tuple[list[int], list[int]]]:
    """(technician indexes, visit indexes) per territory.

    ``matrix`` (over ``problem.locations()``) is used when given; otherwise only the
    homes' travel times are asked of the provider.
    """
    n_v, n_t = len(problem.visits), len(problem.technicians)
    if matrix is not None:
        homes = matrix[n_v : n_v + n_t, n_v : n_v + n_t].astype(float)
        home_to_visit = matrix[n_v : n_v + n_t, :n_v].astype(float)
    else:
        homes, home_to_visit = home_matrices(problem)
    groups = _tech_groups(homes, k)
    territory_of = {t: g for g, members in enumerate(groups) for t in members}
    # Each visit goes to the nearest technician able to serve it who still has room
    # (a quota from his working days), the visits whose second choice is worst first,
    # and with him to his territory. Quotas per territory instead filled a territory
    # with the visits near some of its technicians while the others, living apart,
    # had days without a stop (10,000 visits: 105 of a territory's 420 left out).
    can = able(problem)
    days_of = np.array(
        [
            sum(t.shift_on(d) is not None for d in range(problem.horizon.num_days))
            for t in problem.technicians
        ],
        dtype=float,
    )
    work = np.array([v.service for v in problem.visits], dtype=float) + 1.0
    quota = work.sum() / max(1.0, days_of.sum()) * QUOTA_SLACK * days_of
    load = np.zeros(n_t)
    # Nor to a technician who could not get there, do it and get back within his
    # longest shift (unless nobody could: the solver then says it is out of reach).
    longest = np.array(
        [
            max(
                (
                    (w.end - w.start)
                    for d in range(problem.horizon.num_days)
                    if (w := t.shift_on(d)) is not None
                ),
                default=0,
            )
            for t in problem.technicians
        ],
        dtype=float,
    )
    reach = np.asarray(2 * home_to_visit.T + work[:, None] <= longest[None, :])
    reachable = np.logical_and(can, reach)
    anyone = np.asarray(reachable.any(axis=1)).reshape(-1, 1)
    can = np.where(anyone, reachable, can)
    dist = np.where(can, home_to_visit.T, np.inf)
    finite = np.where(np.isfinite(dist), dist, 1e12)
    two = np.sort(finite, axis=1)[:, :2]
    regret = two[:, 1] - two[:, 0] if n_t > 1 else two[:, 0]
    visits_of: list[list[int]] = [[] for _ in groups]
    for i in np.argsort(-regret, kind="stable"):
        if not np.isfinite(dist[i]).any():
            visits_of[0].append(int(i))  # unservable: the solver reports why
            continue
        choices = [int(t) for t in np.argsort(finite[i], kind="stable") if np.isfinite(dist[i, t])]
        t = next((t for t in choices if load[t] + work[i] <= quota[t]), choices[0])
        load[t] += work[i]
        visits_of[territory_of[t]].append(int(i))
    return [(g, sorted(v)) for g, v in zip(groups, visits_of, strict=True)]


def restrict(problem: Problem, techs: list[int], visits: list[int]) -> Problem:
    """The problem with only some technicians and visits (indexes), same provider."""
    return dataclasses.replace(
        problem,
        visits=tuple(problem.visits[i] for i in visits),
        technicians=tuple(problem.technicians[t] for t in techs),
    )


def sub_problem(
    problem: Problem, matrix: np.ndarray, techs: list[int], visits: list[int]
) -> tuple[Problem, np.ndarray]:
    """``restrict``, with its slice of ``matrix`` standing in for the provider."""
    n_v, n_t = len(problem.visits), len(problem.technicians)
    idx = visits + [n_v + t for t in techs] + [n_v + n_t + t for t in techs]
    sub_m = matrix[np.ix_(idx, idx)]
    sub = dataclasses.replace(restrict(problem, techs, visits), travel=PrecomputedMatrix(sub_m))
    return sub, sub_m


def territory_seconds(problem: Problem, visits: int, seconds: float, territories: int) -> float:
    """A territory's share of a plan's time limit ``seconds``: the join counts as one
    more territory (``join_seconds``), the territories share the rest in proportion to
    their visits."""
    rest = seconds - join_seconds(seconds, territories)
    return rest * visits / max(1, len(problem.visits))


def join_seconds(seconds: float, territories: int) -> float:
    """The share of a plan's time limit for joining ``territories`` and repairing their
    borders: as much as an average territory gets."""
    return seconds / (territories + 1)


def _run(args: tuple[Problem, np.ndarray, SolverOptions]) -> Plan:
    sub, sub_m, options = args
    return solve(sub, options, matrix=sub_m)


def solve_territories(
    problem: Problem,
    options: SolverOptions | None = None,
    *,
    max_visits: int = DEFAULT_MAX_VISITS,
    territories: int | None = None,
    workers: int = 2,
    matrix: np.ndarray | None = None,
) -> Plan:
    """Solve directly when small; otherwise split, solve the territories in ``workers``
    processes, then join them and repair the borders.

    ``options.time_limit_s`` is the wall budget for the whole call: the join gets
    ``join_seconds`` of it, the territories the rest, by rounds of ``workers``.
    """
    options = options or SolverOptions()
    t0 = time.monotonic()
    if matrix is None:
        matrix = np.asarray(problem.travel.matrix(problem.locations()), dtype=np.int64)
    k = min(territories or territory_count(problem, max_visits), len(problem.technicians))
    if k <= 1:
        return solve(problem, options, matrix=matrix)
    parts = split(problem, k, matrix=matrix)
    rounds = math.ceil(len(parts) / workers)
    budget = options.time_limit_s - (time.monotonic() - t0)
    per = dataclasses.replace(
        options,
        time_limit_s=(budget - join_seconds(budget, len(parts))) / rounds,
        num_workers=1,
    )
    jobs = [(*sub_problem(problem, matrix, t, v), per) for t, v in parts]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        plans = list(pool.map(_run, jobs))
    remaining = max(1.0, options.time_limit_s - (time.monotonic() - t0))
    return join(problem, plans, dataclasses.replace(options, time_limit_s=remaining), matrix=matrix)
