"""Slot offers as cheapest feasible insertions, on tiny instances on a line (node at x,
travel |dx|, service 10): every number below can be checked by hand, and every offer,
once applied, passes the validator."""

from __future__ import annotations

import random

import pytest

from routing.engine import (
    Break,
    Plan,
    Route,
    Stop,
    TimeWindow,
    Unassigned,
    apply_insertion,
    insertion,
    insertions,
    slot_offers,
    validate,
    without_visit,
)
from routing.engine.timing import timetable
from tests.routing.engine.line import problem, tech, visit

# t1 lives at 0 and works 0..1000; on day 0 it serves a (x=10) then b (x=20); day 1 is
# free. c (x=15) is to be placed.
A, B = visit("a", 10), visit("b", 20)
DAY0 = Route(
    "t1", 0, departure=0, stops=(Stop("a", 10, 10, 20), Stop("b", 30, 30, 40)), arrival_home=60
)
PLAN = Plan(routes=(DAY0,), unassigned=(Unassigned("c", "insufficient_capacity"),), drive_time=40)


def world(c=None, t=None):  # type: ignore[no-untyped-def]
    return problem([A, B, c or visit("c", 15)], [t or tech("t1")], days=2)


def test_each_position_costs_the_drive_it_adds_and_pushes_later_stops_only_as_needed() -> None:
    found = insertions(world(), PLAN, "c")
    table = [
        (i.route.day, i.position, i.cost, [(s.visit_id, s.start) for s in i.route.stops])
        for i in found
    ]
    assert table == [
        # a -> c -> b adds 5 + 5 - 10 = 0; b is pushed from 30 to 40.
        (0, 1, 0, [("a", 10), ("c", 25), ("b", 40)]),
        # b -> c -> home adds 5 + 15 - 20 = 0; a and b keep their times.
        (0, 2, 0, [("a", 10), ("b", 30), ("c", 45)]),
        # home -> c -> a adds 15 + 5 - 10 = 10; a and b start 20 minutes later.
        (0, 0, 10, [("c", 15), ("a", 30), ("b", 50)]),
        # day 1 has no route yet: home -> c -> home, 30.
        (1, 0, 30, [("c", 15)]),
    ]


def test_offers_are_the_cheapest_slot_of_each_day_first_then_the_next_cheapest() -> None:
    offers = slot_offers(world(), PLAN, "c", limit=3, window=20, step=10)
    assert [(o.day, o.window.start, o.window.end, o.insertion.cost) for o in offers] == [
        (0, 20, 40, 0),  # c at 25, between a and b
        # The same place started later, at 30 (b pushed to 45): the same drive. It comes
        # after day 1, which gets its cheapest slot before day 0 gets a second one.
        (0, 30, 50, 0),
        (1, 10, 30, 30),  # c at 15
    ]
    later = slot_offers(world(), PLAN, "c", limit=3, window=20, step=10, days={0})
    assert [o.insertion.stop.start for o in later] == [25, 30, 40]
    assert all(o.window.start <= o.insertion.stop.start <= o.window.end for o in offers)
    assert [o.window.start for o in slot_offers(world(), PLAN, "c", limit=1)] == [0]
    excluded = slot_offers(world(), PLAN, "c", window=20, step=10, exclude={(0, 20)})
    assert (0, 20) not in {(o.day, o.window.start) for o in excluded}


def test_every_offer_applied_is_a_valid_plan_where_only_that_visit_moved() -> None:
    p = world()
    for offer in slot_offers(p, PLAN, "c", limit=10, window=20, step=10):
        after = apply_insertion(p, PLAN, offer.insertion)
        assert validate(p, after) == []
        assert after.unassigned == ()
        assignment = after.assignment()
        assert assignment["c"] == ("t1", offer.day)
        assert (assignment["a"], assignment["b"]) == (("t1", 0), ("t1", 0))


def test_a_stop_is_never_pushed_out_of_its_own_window() -> None:
    # b holds the promise 25..35: pushing it to 40 (c between a and b) is not offered,
    # nor is c first (b would start at 50).
    p = problem([A, visit("b", 20, windows=(TimeWindow(25, 35),)), visit("c", 15)], [tech()], 2)
    assert [(i.route.day, i.position) for i in insertions(p, PLAN, "c")] == [(0, 2), (1, 0)]


def test_the_site_must_be_open_for_the_whole_visit_and_the_shift_long_enough() -> None:
    # c may start only 40..42 on day 0 and is closed on day 1: only after b (at 45) is
    # too late, between a and b it starts at 40 (b pushed to 55).
    c = visit("c", 15, windows=(TimeWindow(40, 42),), day_windows={1: ()})
    assert [(i.position, i.stop.start) for i in insertions(world(c), PLAN, "c")] == [
        (1, 40),
        (0, 40),
    ]
    # A shift ending at 65: c anywhere on day 0 brings t1 home at 70 or later.
    short = tech("t1", shift=TimeWindow(0, 65))
    assert [(i.route.day, i.position) for i in insertions(world(t=short), PLAN, "c")] == [(1, 0)]


def test_a_technician_without_the_skill_gets_nothing() -> None:
    c = visit("c", 15, skill="OU-200")
    assert insertions(world(c), PLAN, "c") == []
    able = tech("t1", skills=frozenset({"OU-200"}))
    assert len(insertions(world(c, able), PLAN, "c")) == 4


def test_the_lunch_break_goes_where_it_pushes_no_stop_and_the_day_ends_earliest() -> None:
    # Lunch of 20 starting 30..50. One stop at 10: before it the technician would wait
    # until 50; after it (20..50) the day ends at 50.
    t = tech("t1", lunch=Break(20, TimeWindow(30, 50)))
    p = problem([A], [t])
    m = p.travel.matrix([t.start, A.location, t.start])
    route, pushed = timetable(p, t, 0, [A], m)  # type: ignore[misc]
    assert (route.departure, route.stops, route.break_start, route.arrival_home, pushed) == (
        0,
        (Stop("a", 10, 10, 20),),
        30,
        50,
        0,
    )
    # Once a starts no earlier than 50, the break fits before it.
    route, pushed = timetable(p, t, 0, [A], m, [50])  # type: ignore[misc]
    assert (route.departure, route.break_start, route.stops[0].start, pushed) == (20, 30, 50, 0)


def test_moving_a_planned_visit_takes_it_out_of_its_route_first() -> None:
    # c is planned on day 0 between a and b; moving it to day 1 leaves a and b where
    # they were, and the day-0 slot it holds can be excluded by the caller.
    planned = Route(
        "t1",
        0,
        departure=0,
        stops=(Stop("a", 10, 10, 20), Stop("c", 25, 25, 35), Stop("b", 40, 40, 50)),
        arrival_home=70,
    )
    p = world()
    plan = Plan((planned,), (), 40)
    out = without_visit(p, plan, "c")
    assert out.routes[0].stops == (Stop("a", 10, 10, 20), Stop("b", 30, 40, 50))
    assert (out.routes[0].arrival_home, out.drive_time) == (70, 40)
    offers = slot_offers(p, plan, "c", window=20, step=10, exclude={(0, 20)})
    day1 = next(o for o in offers if o.day == 1)
    after = apply_insertion(p, plan, day1.insertion)
    assert validate(p, after) == []
    assert after.assignment() == {"a": ("t1", 0), "b": ("t1", 0), "c": ("t1", 1)}
    assert after.drive_time == 40 + 30
    # c alone on a day: taking it out drops the route.
    alone = Plan((Route("t1", 1, 0, (Stop("c", 15, 15, 25),), 40),), (), 30)
    assert without_visit(p, alone, "c").routes == ()


def reference_offers(p, plan, visit_id, limit, step, window):  # type: ignore[no-untyped-def]
    """The documented rule, by brute force: every insertion (later starts included), the
    cheapest per (day, window), then one per day by cost, then the next cheapest."""
    best: dict[tuple[int, int], int] = {}
    for ins in insertions(p, plan, visit_id, later_step=step):
        best.setdefault((ins.route.day, ins.stop.start // step * step), ins.cost)
    ranked = sorted(best, key=lambda k: (best[k], k))
    chosen: list[tuple[int, int]] = []
    for key in ranked:
        if len(chosen) < limit and all(d != key[0] for d, _ in chosen):
            chosen.append(key)
    for key in ranked:
        if len(chosen) < limit and key not in chosen:
            chosen.append(key)
    return sorted((d, s, s + window, best[(d, s)]) for d, s in chosen)


@pytest.mark.parametrize("seed", range(12))
def test_trying_the_cheapest_days_first_gives_what_trying_all_gives(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Random days of a few technicians on a line, filled greedily with the cheapest
    # insertion of each visit; then offers for one of them, early stop against brute
    # force, and every offer applied passes the validator.
    rng = random.Random(seed)
    visits = [
        visit(f"v{i}", rng.randint(0, 60), service=rng.choice([10, 20, 30])) for i in range(18)
    ]
    techs = [
        tech(
            f"t{k}",
            x=rng.randint(0, 60),
            lunch=Break(15, TimeWindow(200, 260)),
            shift=TimeWindow(0, 400),
        )
        for k in range(3)
    ]
    p = problem(visits, techs, days=6)
    plan = Plan((), tuple(Unassigned(v.id, "x") for v in visits), 0)
    for v in visits:
        found = insertions(p, plan, v.id)
        if found:
            plan = apply_insertion(p, plan, found[0])
    assert validate(p, plan) == []
    moving = rng.choice([v.id for v in visits if v.id in plan.assignment()])
    tried: list[object] = []
    whole = insertion._Day.insertions
    monkeypatch.setattr(
        insertion._Day, "insertions", lambda day, step: tried.append(day) or whole(day, step)
    )
    slot_offers(p, plan, moving, limit=2, window=60, step=30)
    assert 0 < len(tried) < 18  # of the 3 x 6 technician-days, the cheapest only
    for limit in (2, 5):
        offers = slot_offers(p, plan, moving, limit=limit, window=60, step=30)
        got = sorted((o.day, o.window.start, o.window.end, o.insertion.cost) for o in offers)
        assert got == reference_offers(p, plan, moving, limit, 30, 60)
        for offer in offers:
            assert validate(p, apply_insertion(p, plan, offer.insertion)) == []
