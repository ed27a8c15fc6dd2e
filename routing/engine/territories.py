"""Large instances: split into territories, solve them in parallel, repair the borders.

Technicians are grouped by their home locations (k-means in travel time, seeded
deterministically, with balanced group sizes); each visit then goes to the territory
that is nearest to it among those that can serve it, under a workload quota
proportional to the territory's technician-days (and one per skill, from the days of its
technicians who have that skill), assigning the visits with the largest regret first.
Territories are solved in separate processes. Visits a territory could not serve are
offered to their next-nearest territory, which is re-solved from its current routes
(the border repair); a repair that would serve fewer of its own visits is discarded.
"""

from __future__ import annotations

import dataclasses
import math
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from routing.engine.model import Stability, precheck, vehicle_days
from routing.engine.problem import INSUFFICIENT_CAPACITY, Plan, Problem, Unassigned
from routing.engine.solver import SolverOptions, solve
from routing.engine.travel import PrecomputedMatrix

# Territory size. OR-Tools' first solution grows roughly with visits squared times
# vehicles: on the field benchmark (10 days) 400 visits and 5 technicians take 4-8 s,
# 1,000 visits and 13 technicians 73 s (local cheapest insertion) or more, which left a
# 100 s budget with no plan at all. 400 keeps most of the budget for the search.
DEFAULT_MAX_VISITS = 400
SKILL_SHARE = 0.75


def _tech_groups(matrix: np.ndarray, n_v: int, n_t: int, k: int) -> list[list[int]]:
    """Balanced k-medoid-like grouping of technicians by home-to-home travel time."""
    homes = matrix[n_v : n_v + n_t, n_v : n_v + n_t].astype(float)
    d = (homes + homes.T) / 2
    # Farthest-point seeding from technician 0: deterministic and well spread.
    centres = [0]
    while len(centres) < k:
        centres.append(int(np.argmax(d[:, centres].min(axis=1))))
    size = math.ceil(n_t / k)
    for _ in range(10):
        groups: list[list[int]] = [[] for _ in range(k)]
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


def split(problem: Problem, matrix: np.ndarray, k: int) -> list[tuple[list[int], list[int]]]:
    """(technician indexes, visit indexes) per territory."""
    n_v, n_t = len(problem.visits), len(problem.technicians)
    groups = _tech_groups(matrix, n_v, n_t, k)
    vehicles = vehicle_days(problem)
    allowed, _ = precheck(problem, vehicles)
    tech_of_vehicle = np.array([t for t, _ in vehicles])
    home_to_visit = matrix[n_v : n_v + n_t, :n_v].astype(float)
    days_of = np.zeros(n_t)
    for t, _ in vehicles:
        days_of[t] += 1
    work = np.array([v.service for v in problem.visits], dtype=float) + 1.0
    total_days = max(1.0, days_of.sum())
    per_day = work.sum() / total_days * 1.05
    quota = [per_day * days_of[g].sum() for g in groups]
    load = [0.0] * len(groups)
    # A territory whose technicians mostly lack a skill must not take all the visits
    # near it that need that skill: each skill has its own quota, from the days of the
    # territory's technicians who have it, counted at SKILL_SHARE as they also serve
    # their other skills. (At full days, on the field benchmark, a territory with one of
    # five technicians able to do a skill still left 17 of its 85 such visits unserved.)
    skill_quota: dict[tuple[int, str], float] = {}
    skill_load: dict[tuple[int, str], float] = {}
    for skill in sorted({v.skill for v in problem.visits if v.skill is not None}):
        for g, members in enumerate(groups):
            able = [t for t in members if skill in problem.technicians[t].skills]
            skill_quota[g, skill] = per_day * SKILL_SHARE * days_of[able].sum() if able else 0.0
            skill_load[g, skill] = 0.0

    def fits(i: int, g: int) -> bool:
        skill = problem.visits[i].skill
        if load[g] + work[i] > quota[g]:
            return False
        return skill is None or skill_load[g, skill] + work[i] <= skill_quota[g, skill]

    # dist[v, g]: travel from the nearest home in g whose technician may do v.
    dist = np.full((n_v, len(groups)), np.inf)
    for i, ks in allowed.items():
        techs = set(tech_of_vehicle[ks].tolist())
        for g, members in enumerate(groups):
            ok = [t for t in members if t in techs]
            if ok:
                dist[i, g] = home_to_visit[ok, i].min()
    visits_of: list[list[int]] = [[] for _ in groups]
    finite = np.where(np.isfinite(dist), dist, 1e12)
    srt = np.sort(finite, axis=1)
    regret = srt[:, 1] - srt[:, 0] if len(groups) > 1 else srt[:, 0]
    for i in np.argsort(-regret, kind="stable"):
        if not np.isfinite(dist[i]).any():
            visits_of[0].append(int(i))  # unservable: the solver reports why
            continue
        choices = [int(g) for g in np.argsort(finite[i], kind="stable") if np.isfinite(dist[i, g])]
        g = next((g for g in choices if fits(int(i), g)), choices[0])
        load[g] += work[i]
        if problem.visits[i].skill is not None:
            skill_load[g, problem.visits[i].skill] += work[i]
        visits_of[g].append(int(i))
    return [(g, sorted(v)) for g, v in zip(groups, visits_of, strict=True)]


def sub_problem(
    problem: Problem, matrix: np.ndarray, techs: list[int], visits: list[int]
) -> tuple[Problem, np.ndarray]:
    """The problem restricted to some technicians and visits (indexes), with its matrix."""
    n_v, n_t = len(problem.visits), len(problem.technicians)
    idx = visits + [n_v + t for t in techs] + [n_v + n_t + t for t in techs]
    sub_m = matrix[np.ix_(idx, idx)]
    sub = dataclasses.replace(
        problem,
        visits=tuple(problem.visits[i] for i in visits),
        technicians=tuple(problem.technicians[t] for t in techs),
        travel=PrecomputedMatrix(sub_m),
    )
    return sub, sub_m


def _run(args: tuple[Problem, np.ndarray, SolverOptions, dict | None]) -> Plan:
    sub, sub_m, options, initial = args
    stability = None
    if initial:
        stability = Stability({v: (t, d) for v, (t, d, _) in initial.items()}, move_cost=60)
    return solve(sub, options, initial=initial, stability=stability, matrix=sub_m)


def solve_territories(
    problem: Problem,
    options: SolverOptions | None = None,
    *,
    max_visits: int = DEFAULT_MAX_VISITS,
    territories: int | None = None,
    workers: int = 2,
    matrix: np.ndarray | None = None,
) -> Plan:
    """Solve directly when small; otherwise split, solve in parallel and repair.

    ``options.time_limit_s`` is the wall budget for the whole call: about 80 % goes to
    the territory solves and the rest to the border repair.
    """
    options = options or SolverOptions()
    t0 = time.monotonic()
    if matrix is None:
        matrix = np.asarray(problem.travel.matrix(problem.locations()), dtype=np.int64)
    k = territories or math.ceil(len(problem.visits) / max_visits)
    k = min(k, len(problem.technicians))
    if k <= 1:
        return solve(problem, options, matrix=matrix)
    parts = split(problem, matrix, k)
    rounds = math.ceil(len(parts) / workers)
    budget = options.time_limit_s - (time.monotonic() - t0)
    per = dataclasses.replace(options, time_limit_s=0.8 * budget / rounds, num_workers=1)
    jobs = [(*sub_problem(problem, matrix, t, v), per, None) for t, v in parts]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        plans = list(pool.map(_run, jobs))

        # Border repair: offer each dropped visit to its next-nearest territories.
        dropped = {
            u.visit_id for p in plans for u in p.unassigned if u.reason == INSUFFICIENT_CAPACITY
        }
        if dropped:
            index = {v.id: i for i, v in enumerate(problem.visits)}
            n_v = len(problem.visits)
            extra: list[list[int]] = [[] for _ in parts]
            owner = {i: g for g, (_, vs) in enumerate(parts) for i in vs}
            for vid in sorted(dropped):
                i = index[vid]
                near = sorted(
                    (g for g in range(len(parts)) if g != owner[i]),
                    key=lambda g: min(matrix[n_v + t, i] for t in parts[g][0]),
                )
                if near:
                    extra[near[0]].append(i)
            remaining = options.time_limit_s - (time.monotonic() - t0)
            targets = [g for g in range(len(parts)) if extra[g]]
            rep = dataclasses.replace(
                options,
                time_limit_s=max(1.0, remaining / math.ceil(len(targets) / workers)),
                num_workers=1,
                metaheuristic="GUIDED_LOCAL_SEARCH",
                first_solution="LOCAL_CHEAPEST_INSERTION",
            )
            rjobs = []
            for g in targets:
                techs, vs = parts[g]
                initial = {
                    s.visit_id: (r.technician_id, r.day, pos)
                    for r in plans[g].routes
                    for pos, s in enumerate(r.stops)
                }
                rjobs.append((*sub_problem(problem, matrix, techs, vs + extra[g]), rep, initial))
            for g, new in zip(targets, pool.map(_run, rjobs), strict=True):
                own = {problem.visits[i].id for i in parts[g][1]}
                before = sum(1 for v in plans[g].assignment() if v in own)
                after = sum(1 for v in new.assignment() if v in own)
                if after < before:
                    # A repair that ran out of time (or failed to restore its seed) must
                    # not cost the territory its own plan: keep it, the offers stay out.
                    extra[g] = []
                    continue
                plans[g] = new
            for g, plan in enumerate(plans):
                moved = {problem.visits[i].id for i in extra[g]}
                if g not in targets:
                    continue
                served_here = {vid for vid in plan.assignment() if vid in moved}
                # The visit now lives in g; drop its "unassigned" record from its owner.
                for h in range(len(plans)):
                    if h != g and served_here:
                        kept = tuple(
                            u for u in plans[h].unassigned if u.visit_id not in served_here
                        )
                        plans[h] = dataclasses.replace(plans[h], unassigned=kept)
                # And g reports only its own unserved visits plus offered ones still out.
                plans[g] = dataclasses.replace(
                    plan,
                    unassigned=tuple(u for u in plan.unassigned if u.visit_id not in moved),
                )
    routes = tuple(r for p in plans for r in p.routes)
    served = {s.visit_id for r in routes for s in r.stops}
    unassigned: dict[str, Unassigned] = {}
    for p in plans:
        for u in p.unassigned:
            if u.visit_id not in served:
                unassigned.setdefault(u.visit_id, u)
    return Plan(
        routes,
        tuple(unassigned.values()),
        sum(p.drive_time for p in plans),
        sum(p.objective for p in plans),
    )
