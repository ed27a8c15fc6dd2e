"""The technician's workflow by visit: what the field app's queue sends, and what API
clients that keep work while offline may send. An action names the visit and the serial,
never a stop row, so work recorded before a re-plan still finds its visit after one (stop
rows are per plan version; a visit request lives across versions).

An action on a visit of the caller's current published routes is applied through the
stop workflow (service.py). Otherwise:

- a visit the technician never had on a route (in a published or superseded plan) is
  another technician's: 404, as for stops;
- a visit it had, that a re-plan has since moved to another technician or taken off the
  plan (or that is done or cancelled), is a **conflict**.

Any conflict a technician meets (that one; the unit already has another outcome, fixed by
someone else or waived; the visit's day has not come) is answered with a 409 that says
plainly what happened, and the work is kept for the support lead as an inbox item
(``field_conflict``): nothing recorded on site is dropped. The conflict is written in the
request's transaction while the refused work is rolled back (a savepoint), so the answer
and the kept item commit together.

The day rule reads the day the technician worked: an action carries the day its sheet
showed the visit on, and that day counts when the technician really had the visit on a
route that day (a re-plan may have moved the visit to a later day since).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound
from core.idempotency import idempotent_answer
from devices.models import Technician
from recall.campaigns import field_work
from routing.plans.models import FieldPlan, PlanRoute, PlanStop
from routing.sheets import service
from routing.sheets.days import long_day
from routing.sheets.service import StopState

ActionKind = Literal["start", "outcome", "finish"]
# Plans whose routes a technician has followed (or follows): a visit on one of them was
# this technician's.
FOLLOWED = ("published", "superseded")


@dataclass(frozen=True)
class FieldAction:
    """One thing a technician did at a visit."""

    kind: ActionKind
    visit_id: int
    serial: str | None = None
    outcome: str | None = None
    note: str | None = None
    day: date | None = None  # the day the technician's sheet showed the visit on
    recorded_at: datetime | None = None  # when the phone recorded it


@dataclass(frozen=True)
class FieldAnswer:
    """``applied`` with the stop's state, or ``conflict`` with the reason and the inbox
    item that keeps the work for the lead."""

    result: Literal["applied", "conflict"]
    visit_id: int
    stop: StopState | None = None
    detail: str | None = None
    kept_as: int | None = None


def _published_stop(
    session: Session, *, visit_id: int, technician_id: int | None
) -> tuple[PlanStop, PlanRoute] | None:
    stmt = (
        select(PlanStop, PlanRoute)
        .join(PlanRoute, PlanRoute.id == PlanStop.route_id)
        .join(FieldPlan, FieldPlan.id == PlanStop.plan_id)
        .where(PlanStop.visit_request_id == visit_id, FieldPlan.status == "published")
    )
    if technician_id is not None:
        stmt = stmt.where(PlanRoute.technician_id == technician_id)
    row = session.execute(stmt).first()
    return None if row is None else (row[0], row[1])


def had_visit(
    session: Session, *, visit_id: int, technician_id: int, day: date | None = None
) -> bool:
    """Whether the visit was on one of the technician's routes (on ``day``, if given) in a
    published or superseded plan."""
    stmt = (
        select(PlanStop.id)
        .join(PlanRoute, PlanRoute.id == PlanStop.route_id)
        .join(FieldPlan, FieldPlan.id == PlanStop.plan_id)
        .where(
            PlanStop.visit_request_id == visit_id,
            PlanRoute.technician_id == technician_id,
            FieldPlan.status.in_(FOLLOWED),
        )
        .limit(1)
    )
    if day is not None:
        stmt = stmt.where(PlanRoute.day == day)
    return session.scalar(stmt) is not None


def _where_it_went(session: Session, visit_id: int) -> str:
    """Why a visit the technician had is no longer on its routes."""
    work = field_work.visit_work(session, [visit_id])[visit_id]
    where = f"the visit to {work.site_name} is no longer on your route"
    if work.status == "done":
        return f"{where}: it is done"
    if work.status == "cancelled":
        return f"{where}: it was cancelled"
    found = _published_stop(session, visit_id=visit_id, technician_id=None)
    if found is None:
        return f"{where}: it waits for a new date"
    other = session.get_one(Technician, found[1].technician_id)
    return f"{where}: it is now {other.name}'s, on {long_day(found[1].day)}"


def _describe(action: FieldAction) -> str:
    if action.kind == "outcome":
        return f"outcome {action.outcome} for unit {action.serial}"
    return f"{action.kind} of the visit"


def _apply(
    session: Session,
    stop: PlanStop,
    action: FieldAction,
    *,
    technician_id: int | None,
    actor: str,
    worked_on: date,
) -> StopState:
    common: dict[str, Any] = {
        "stop_id": stop.id,
        "technician_id": technician_id,
        "actor": actor,
        "worked_on": worked_on,
    }
    if action.kind == "start":
        return service.start_stop(session, **common)
    if action.kind == "finish":
        return service.finish_stop(session, **common)
    assert action.serial is not None and action.outcome is not None
    return service.record_outcome(
        session, serial=action.serial, outcome=action.outcome, note=action.note, **common
    )


def _keep(
    session: Session,
    action: FieldAction,
    reason: str,
    *,
    technician_id: int,
    actor: str,
    key: str | None,
) -> FieldAnswer:
    recorded = {k: v for k, v in asdict(action).items() if v is not None}
    item = field_work.keep_conflict(
        session,
        visit_id=action.visit_id,
        serial=action.serial,
        technician_id=technician_id,
        summary=f"{_describe(action)} not applied: {reason}",
        data={"recorded": recorded, "reason": reason, "idempotency_key": key},
        actor=actor,
    )
    return FieldAnswer("conflict", action.visit_id, detail=reason, kept_as=item)


def act(
    session: Session,
    *,
    action: FieldAction,
    technician_id: int | None,
    actor: str,
    key: str | None = None,
) -> FieldAnswer:
    """Apply one action; a technician's conflict is kept for the lead and answered as
    such (a support lead's is a plain 409). ``key`` (the request's idempotency key) is
    kept with a conflict, to find the phone's record again."""
    found = _published_stop(session, visit_id=action.visit_id, technician_id=technician_id)
    if found is None:
        if technician_id is None or not had_visit(
            session, visit_id=action.visit_id, technician_id=technician_id
        ):
            raise NotFound(f"no visit {action.visit_id} on a route of yours in a published plan")
        reason = _where_it_went(session, action.visit_id)
        return _keep(session, action, reason, technician_id=technician_id, actor=actor, key=key)
    stop, route = found
    worked_on = route.day
    if (
        technician_id is not None
        and action.day is not None
        and action.day != route.day
        and had_visit(
            session, visit_id=action.visit_id, technician_id=technician_id, day=action.day
        )
    ):
        worked_on = action.day
    try:
        with session.begin_nested():
            state = _apply(
                session,
                stop,
                action,
                technician_id=technician_id,
                actor=actor,
                worked_on=worked_on,
            )
    except Conflict as refused:
        if technician_id is None:
            raise
        reason = str(refused.detail)
        return _keep(session, action, reason, technician_id=technician_id, actor=actor, key=key)
    return FieldAnswer("applied", action.visit_id, stop=state)


def answer_body(answer: FieldAnswer) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body of an answer: 200 with the stop's state, or 409 with
    the reason and the inbox item that keeps the work (shaped like every error, so a
    client reads ``detail`` either way)."""
    if answer.result == "conflict":
        return 409, {
            "error": "FieldConflict",
            "result": "conflict",
            "visit_id": answer.visit_id,
            "detail": answer.detail,
            "kept_for_lead": True,
            "inbox_item_id": answer.kept_as,
        }
    assert answer.stop is not None
    stop = answer.stop
    return 200, {
        "result": "applied",
        "visit_id": answer.visit_id,
        "stop_id": stop.stop_id,
        "status": stop.status,
        "started_at": stop.started_at.isoformat() if stop.started_at else None,
        "finished_at": stop.finished_at.isoformat() if stop.finished_at else None,
        "units": stop.units,
    }


def act_once(
    session: Session,
    *,
    action: FieldAction,
    technician_id: int | None,
    actor: str,
    key: str | None,
) -> tuple[int, dict[str, Any]]:
    """``act`` under an idempotency key: the status and body of the answer. The same key
    with the same action again replays the first answer, so a phone that sends again
    (the reply was lost) changes nothing and keeps no second conflict."""
    tenant = f"technician:{technician_id}" if technician_id is not None else "support_lead"
    return idempotent_answer(
        session,
        tenant=tenant,
        key=key,
        operation=f"field {action.kind}",
        payload=asdict(action),
        run=lambda: answer_body(
            act(session, action=action, technician_id=technician_id, actor=actor, key=key)
        ),
    )
