"""A partner picks another slot for a visit: up to five slots that fit the published plan
(the engine's cheapest feasible insertions, ``routing.engine.slot_offers``), and booking
one at once as a new plan version, based on the published one, in which only that visit
moved.

Slots run from tomorrow (in the plan's time zone) to the published plan's last day. They
are computed on the visits the published routes serve from then on, plus the visit to
move as if it were not planned yet (the promise it holds binds nothing); absences and
closures recorded since count, and so do the visit's blocked dates and preferred windows.
Stops of visits that are no longer scheduled (cancelled, or back to requested after a
reschedule request) leave their routes.

Booking, in one transaction under the campaign's lock (bookings and publishing queue up
behind each other): the slot is looked for again in the plan as published now; if it was
taken meanwhile, the answer says so and brings the slots free now. Otherwise the new
version copies the published routes before tomorrow, stores those from tomorrow with the
visit moved, must pass the validator (or nothing is booked), and is published: the
partner's notice says its slot is booked, the slot counts as confirmed, the lead's inbox
hears of it, and no other visit's date or window changes (else nothing is booked).
Booking the slot the visit already holds changes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.orm import Session

from core.errors import Conflict
from core.settings import Settings
from recall.campaigns.planning import (
    OPEN_STATUSES,
    VisitForPlanning,
    campaign_for_planning,
    campaign_of_visit,
    visits_for_planning,
)
from routing.engine import (
    Plan,
    Problem,
    TimeWindow,
    Violation,
    apply_insertion,
    insertions,
    validate,
)
from routing.engine import slot_offers as engine_offers
from routing.plans import availability
from routing.plans.models import FieldPlan
from routing.plans.planner import load_base, rules_from, technicians_for, travel_from
from routing.plans.problem import Calendar, build_problem
from routing.plans.service import publish, published_plan
from routing.plans.slot_version import store_booking
from routing.plans.store import Promise

log = logging.getLogger("fieldrecall.slots")

# Why there is no slot to offer, in the partner's words.
NO_PLAN = "The visits are not planned yet; we will send you a date as soon as they are."
PLAN_OVER = "The current plan has no day left after today; we will send you a new date."
NOT_OPEN = "This visit is finished or no longer needed."
TOO_LATE = "The visit is today (or was due already); please call us to change it."
NO_SLOT = "No other slot fits the current plan."
NEEDS_LEAD = (
    "The plan is being changed by our support lead; we cannot book online right now. "
    "Tell us which dates do not suit you instead."
)


@dataclass(frozen=True)
class Slot:
    """A date and an arrival window (aware instants)."""

    day: date
    window_start: datetime
    window_end: datetime


@dataclass(frozen=True)
class SlotOffers:
    visit_id: int
    slots: tuple[Slot, ...]
    why_none: str | None = None


@dataclass(frozen=True)
class Booking:
    """``booked`` (a new published version), ``unchanged`` (the visit holds that slot
    already), ``taken`` (the slot is gone: ``offers`` are the free ones now) or
    ``unavailable`` (no slot can be booked now: ``offers.why_none`` says why)."""

    outcome: str
    slot: Slot | None = None
    plan_id: int | None = None
    offers: SlotOffers | None = None


@dataclass(frozen=True)
class _Ground:
    """The published plan from tomorrow on, as the engine sees it."""

    published: FieldPlan
    cal: Calendar
    problem: Problem
    base: Plan
    visits: list[VisitForPlanning]  # the problem's; the one to move as not yet planned
    exclude: frozenset[tuple[int, int]]  # the (day, window start) the visit holds


def _moving(session: Session, campaign_id: int, visit_id: int) -> VisitForPlanning | None:
    rows = visits_for_planning(session, campaign_id=campaign_id, include_ids=frozenset({visit_id}))
    return next((v for v in rows if v.visit_id == visit_id), None)


def _ground(
    session: Session,
    *,
    campaign_id: int,
    visit_id: int | None,
    settings: Settings,
    today: date | None,
) -> _Ground | str:
    """What the offers for ``visit_id`` are computed on, or why there can be none (with
    no visit: the published plan from tomorrow on, as it stands)."""
    published = published_plan(session, campaign_id)
    if published is None:
        return NO_PLAN
    today = today or datetime.now(ZoneInfo(published.timezone)).date()
    first = max(published.first_day, today + timedelta(days=1))
    if first > published.last_day:
        return PLAN_OVER
    cal = Calendar(first, published.last_day, published.timezone)
    stored = load_base(session, published.id, cal)
    served = {int(s.visit_id) for r in stored.routes for s in r.stops}
    moving_ids: frozenset[int] = frozenset() if visit_id is None else frozenset({visit_id})
    by_id = {
        v.visit_id: v
        for v in visits_for_planning(
            session, campaign_id=campaign_id, include_ids=frozenset(served) | moving_ids
        )
    }
    kept = {vid for vid in served if by_id.get(vid) and by_id[vid].status == "scheduled"}
    visits = [by_id[vid] for vid in sorted(kept - moving_ids)]
    exclude: set[tuple[int, int]] = set()
    if visit_id is not None:
        moving = by_id.get(visit_id)
        if moving is None or moving.status not in OPEN_STATUSES or moving.nothing_left:
            return NOT_OPEN
        held, held_start = moving.scheduled_date, moving.window_start
        if moving.units_in_progress or (moving.status == "scheduled" and held and held <= today):
            return TOO_LATE
        if moving.status == "scheduled" and held and held_start and cal.first_day <= held:
            exclude.add((cal.index(held), cal.minutes(cal.index(held), held_start)))
        # As if not planned yet: the promise it holds binds nothing.
        visits.append(
            dataclasses.replace(
                moving, status="requested", scheduled_date=None, window_start=None, window_end=None
            )
        )
    routes = []
    for route in stored.routes:
        stops = tuple(s for s in route.stops if int(s.visit_id) in kept | moving_ids)
        if stops:
            routes.append(dataclasses.replace(route, stops=stops))
    campaign = campaign_for_planning(session, campaign_id=campaign_id)
    technicians = technicians_for(session, campaign.required_skill)
    problem = build_problem(
        visits=visits,
        technicians=technicians,
        cal=cal,
        rules=rules_from(settings, published.timezone),
        travel=travel_from(settings),
        deadline=campaign.deadline,
        absences=availability.absences_by_technician(
            session, [t.id for t in technicians], cal.first_day, cal.last_day
        ),
        closures=availability.closures_by_site(
            session, [v.site_id for v in visits], cal.first_day, cal.last_day
        ),
    )
    return _Ground(published, cal, problem, Plan(tuple(routes), (), 0), visits, frozenset(exclude))


def published_violations(
    session: Session, *, campaign_id: int, settings: Settings, today: date | None = None
) -> list[Violation]:
    """The engine's validator on the published plan from tomorrow on, against the data as
    it is now (the visits' windows and promises, absences, closures): what every booking
    keeps empty. Empty too when there is nothing ahead to check."""
    ground = _ground(
        session, campaign_id=campaign_id, visit_id=None, settings=settings, today=today
    )
    if isinstance(ground, str):
        return []
    return validate(ground.problem, ground.base)


def _slot(cal: Calendar, day: int, window: TimeWindow) -> Slot:
    return Slot(cal.day(day), cal.instant(day, window.start), cal.instant(day, window.end))


def _offers(ground: _Ground, visit_id: int, settings: Settings, limit: int) -> SlotOffers:
    offers = engine_offers(
        ground.problem,
        ground.base,
        str(visit_id),
        limit=limit,
        window=settings.plan_arrival_window_minutes,
        step=settings.plan_arrival_window_step_minutes,
        exclude=ground.exclude,
    )
    slots = tuple(_slot(ground.cal, o.day, o.window) for o in offers)
    return SlotOffers(visit_id, slots, None if slots else NO_SLOT)


def slot_offers(
    session: Session,
    *,
    visit_id: int,
    partner_id: int | None,
    settings: Settings,
    today: date | None = None,
    limit: int = 5,
) -> SlotOffers:
    """Up to ``limit`` slots for the visit that fit the published plan (another
    partner's visit is a 404)."""
    campaign_id = campaign_of_visit(session, visit_id=visit_id, partner_id=partner_id)
    ground = _ground(
        session, campaign_id=campaign_id, visit_id=visit_id, settings=settings, today=today
    )
    if isinstance(ground, str):
        return SlotOffers(visit_id, (), ground)
    return _offers(ground, visit_id, settings, limit)


def book_slot(
    session: Session,
    *,
    visit_id: int,
    partner_id: int | None,
    day: date,
    window_start: datetime,
    actor: str,
    settings: Settings,
    today: date | None = None,
) -> Booking:
    """Book the slot starting at ``window_start`` on ``day`` for the visit: a new
    published plan version in which only that visit moved (see the module's doc)."""
    campaign_id = campaign_of_visit(session, visit_id=visit_id, partner_id=partner_id)
    campaign_for_planning(session, campaign_id=campaign_id, lock=True)
    held = _moving(session, campaign_id, visit_id)
    if (
        held is not None
        and held.status == "scheduled"
        and (held.scheduled_date, held.window_start) == (day, window_start)
        and held.window_end is not None
    ):
        return Booking("unchanged", Slot(day, window_start, held.window_end))
    ground = _ground(
        session, campaign_id=campaign_id, visit_id=visit_id, settings=settings, today=today
    )
    if isinstance(ground, str):
        return Booking("unavailable", offers=SlotOffers(visit_id, (), ground))
    cal, step = ground.cal, settings.plan_arrival_window_step_minutes
    wanted = None
    if cal.first_day <= day <= cal.last_day:
        d = cal.index(day)
        key = (d, cal.minutes(d, window_start))
        wanted = next(
            (
                i
                for i in insertions(
                    ground.problem, ground.base, str(visit_id), days={d}, later_step=step
                )
                if (d, i.stop.start // step * step) == key and key not in ground.exclude
            ),
            None,
        )
    if wanted is None:
        return Booking("taken", offers=_offers(ground, visit_id, settings, 5))
    plan = apply_insertion(ground.problem, ground.base, wanted)
    matrix = np.asarray(ground.problem.travel.matrix(ground.problem.locations()), dtype=np.int64)
    violations = validate(ground.problem, plan, matrix)
    if violations:
        log.warning("booking visit %s: the plan fails validation: %s", visit_id, violations[:5])
        return Booking("unavailable", offers=SlotOffers(visit_id, (), NEEDS_LEAD))
    row = store_booking(
        session,
        published=ground.published,
        cal=cal,
        problem=ground.problem,
        visits=ground.visits,
        plan=plan,
        matrix=matrix,
        added_drive=wanted.cost,
        visit_id=visit_id,
        actor=actor,
        settings=settings,
    )
    out = publish(session, plan_id=row.id, actor=actor, booked_visit_id=visit_id)
    changed = set(out.new) | set(out.moved) | set(out.dropped)
    if changed != {visit_id}:
        raise Conflict(
            f"booking visit {visit_id} would change other visits too ({sorted(changed)}); "
            "nothing was booked"
        )
    window = Promise(settings.plan_arrival_window_minutes, step).window(
        cal, wanted.route.day, wanted.stop.start
    )
    return Booking("booked", Slot(day, window[0], window[1]), row.id)
