"""Re-planning keeps frozen visits, follows the change, and moves few others."""

from __future__ import annotations

from routing.engine.replan import Change, kept_share, replan
from routing.engine.solver import solve
from routing.engine.validator import validate
from tests.routing.engine.line import FAST, problem, tech, visit


def base():
    """Two technicians 20 apart with four visits each. A day of 40 fits two visits but
    never three (the cheapest three take 42), so each works days 0 and 1 and day 2 is free.
    """
    visits = [visit(f"w{i}", -10.0 - 3 * i) for i in range(4)]
    visits += [visit(f"e{i}", 10.0 + 3 * i) for i in range(4)]
    techs = [tech("west", x=-10, max_work=40), tech("east", x=10, max_work=40)]
    p = problem(visits, techs, days=3)
    plan = solve(p, FAST)
    assert validate(p, plan, check_drive_time=True) == [] and not plan.unassigned
    days = sorted(plan.assignment().values())
    assert days == [("east", 0)] * 2 + [("east", 1)] * 2 + [("west", 0)] * 2 + [("west", 1)] * 2
    return p, plan


def test_absence_moves_only_the_absent_technicians_visits():
    p, plan = base()
    before = plan.assignment()
    change = Change(absences=frozenset({("west", 1)}), today=0)
    new_p, new = replan(p, plan, change, FAST)
    assert validate(new_p, new, check_drive_time=True) == []
    assert not new.unassigned
    after = new.assignment()
    assert all(day != 1 or t != "west" for t, day in after.values())
    # The absent day's two visits moved, to the free day 2 (east cannot reach them).
    affected = sorted(v for v, slot in before.items() if slot == ("west", 1))
    assert [after[v] for v in affected] == [("west", 2), ("west", 2)]
    # Day-0 visits are frozen: same technician, day and start time.
    starts = {s.visit_id: s.start for r in plan.routes for s in r.stops}
    new_starts = {s.visit_id: s.start for r in new.routes for s in r.stops}
    for vid, slot in before.items():
        if slot[1] == 0:
            assert after[vid] == slot and new_starts[vid] == starts[vid]
    assert kept_share(plan, new, exclude=set(affected)) == 1.0


def test_new_done_and_closed_visits():
    p, plan = base()
    before = plan.assignment()
    done = next(v for v, (_, d) in before.items() if d == 0)
    closed = next(v for v, (_, d) in before.items() if d == 1)
    change = Change(
        new_visits=(visit("new", 12.0),),
        done=frozenset({done}),
        closures=frozenset({(closed, 1)}),
    )
    new_p, new = replan(p, plan, change, FAST)
    assert validate(new_p, new, check_drive_time=True) == []
    after = new.assignment()
    assert "new" in after and done not in after
    assert closed in after and after[closed][1] != 1


def test_a_large_plan_is_replanned_only_around_the_change():
    # Three technicians 100 apart, two visits each. With max_visits=4 the re-plan takes
    # the absent technician and its nearest colleague (2 + 2 visits) and keeps the
    # far technician's route exactly as it was.
    visits = [visit("w0", -100), visit("w1", -103), visit("m0", 2), visit("m1", 5)]
    visits += [visit("e0", 100), visit("e1", 103)]
    techs = [tech("west", x=-100), tech("mid", x=0), tech("east", x=100)]
    p = problem(visits, techs)
    plan = solve(p, FAST)
    assert validate(p, plan, check_drive_time=True) == [] and not plan.unassigned
    assert plan.assignment()["e0"] == ("east", 0)

    change = Change(absences=frozenset({("west", 0)}))
    new_p, new = replan(p, plan, change, FAST, max_visits=4)
    assert validate(new_p, new, check_drive_time=True) == []
    assert not new.unassigned
    after = new.assignment()
    assert after["w0"] == after["w1"] == ("mid", 0)
    assert [r for r in new.routes if r.technician_id == "east"] == [
        r for r in plan.routes if r.technician_id == "east"
    ]
    # mid: 0 -> 5 -> 2 -> -100 -> -103 -> 0 (or reversed) = 216; east: 100 -> 103 -> 100.
    assert new.drive_time == 216 + 6


def test_a_large_plan_with_nothing_changed_comes_back_unchanged():
    visits = [visit("a", 10), visit("b", 20), visit("c", -10)]
    p = problem(visits, [tech("t1"), tech("t2", x=-5)])
    plan = solve(p, FAST)
    _, new = replan(p, plan, Change(), FAST, max_visits=2)
    assert new.routes == plan.routes and new.drive_time == plan.drive_time


def test_a_large_replan_with_nothing_to_resolve_still_reports_the_unservable_visit():
    # No technician has skill "X": the visit is unassigned before, and must stay reported
    # (the validator wants every visit served or reported) when no route is re-solved.
    visits = [visit("a", 10), visit("b", 20), visit("c", -10), visit("x", 5, skill="X")]
    p = problem(visits, [tech("t1"), tech("t2", x=-5)])
    plan = solve(p, FAST)
    assert [u.visit_id for u in plan.unassigned] == ["x"]
    new_p, new = replan(p, plan, Change(), FAST, max_visits=2)
    assert new.routes == plan.routes
    assert [(u.visit_id, u.reason) for u in new.unassigned] == [
        (u.visit_id, u.reason) for u in plan.unassigned
    ]
    assert validate(new_p, new, check_drive_time=True) == []
