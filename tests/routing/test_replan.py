"""Re-planning keeps frozen visits, follows the change, and moves few others."""

from __future__ import annotations

from routing.replan import Change, kept_share, replan
from routing.solver import solve
from routing.validator import validate

from .conftest import FAST, problem, tech, visit


def base():
    visits = [visit(f"w{i}", -10.0 - 3 * i) for i in range(4)]
    visits += [visit(f"e{i}", 10.0 + 3 * i) for i in range(4)]
    techs = [tech("west", x=-10, max_work=200), tech("east", x=10, max_work=200)]
    p = problem(visits, techs, days=2)
    plan = solve(p, FAST)
    assert validate(p, plan, check_drive_time=True) == [] and not plan.unassigned
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
    # Day-0 visits are frozen: same technician, day and start time.
    starts = {s.visit_id: s.start for r in plan.routes for s in r.stops}
    new_starts = {s.visit_id: s.start for r in new.routes for s in r.stops}
    for vid, slot in before.items():
        if slot[1] == 0:
            assert after[vid] == slot and new_starts[vid] == starts[vid]
    affected = {v for v, slot in before.items() if slot == ("west", 1)}
    assert kept_share(plan, new, exclude=affected) == 1.0


def test_new_done_and_closed_visits():
    p, plan = base()
    done = next(iter(plan.assignment()))
    on_day1 = [v for v, (_, d) in plan.assignment().items() if d == 1 and v != done]
    closed = on_day1[0] if on_day1 else None
    change = Change(
        new_visits=(visit("new", 12.0),),
        done=frozenset({done}),
        closures=frozenset({(closed, 1)}) if closed else frozenset(),
    )
    new_p, new = replan(p, plan, change, FAST)
    assert validate(new_p, new, check_drive_time=True) == []
    after = new.assignment()
    assert "new" in after and done not in after
    if closed:
        assert after[closed][1] != 1
