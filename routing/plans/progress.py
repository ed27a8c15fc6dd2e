"""The technician's progress towards a partner's site on the visit day, from what the
route records (each stop started and finished, with the time): planned, at an earlier
stop, on the way (the previous stop finished: expected at its end plus the drive, and
the lunch break when the plan puts it on that leg), here, or done.

An ETA comes from what was recorded, never from a guess: on the way, it is the previous
stop's finish plus the drive; while an earlier stop is worked on or finished, the
planned arrival moves by the delay recorded there (never earlier: the technician may
wait for the next window). The partner sees times only, never another partner's site.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.plans.models import FieldPlan, PlanRoute, PlanStop


@dataclass(frozen=True)
class StopFacts:
    """One stop of the day as planned and as recorded."""

    visit_id: int
    status: str  # planned, started, finished
    arrival: datetime
    service_start: datetime
    service_end: datetime
    drive_minutes_before: int
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class DayProgress:
    """``state``: planned, earlier_stop (working at an earlier stop), on_the_way, here or
    done; ``eta`` the expected arrival (planned, on the way, earlier stop); ``since``
    when the recorded step happened; ``stops_before`` the stops still before this one."""

    state: str
    eta: datetime | None
    since: datetime | None
    stops_before: int


def progress_of(
    stops: list[StopFacts],
    index: int,
    *,
    break_start: datetime | None = None,
    break_minutes: int = 0,
) -> DayProgress:
    """Where the technician stands for ``stops[index]`` (stops in route order)."""
    own = stops[index]
    if own.status == "finished":
        return DayProgress("done", None, own.finished_at, 0)
    if own.status == "started":
        return DayProgress("here", None, own.started_at, 0)
    before = stops[:index]
    left = sum(1 for s in before if s.status != "finished")
    lunch = timedelta(0)
    if (
        index > 0
        and break_start is not None
        and before[-1].service_end <= break_start < own.arrival
    ):
        lunch = timedelta(minutes=break_minutes)
    if before and before[-1].status == "finished" and before[-1].finished_at is not None:
        drive = timedelta(minutes=own.drive_minutes_before)
        return DayProgress("on_the_way", before[-1].finished_at + drive + lunch, None, 0)
    recorded = [s for s in before if s.status != "planned"]
    if not recorded:
        return DayProgress("planned", own.arrival, None, left)
    last = recorded[-1]
    if last.status == "finished" and last.finished_at is not None:
        delay = last.finished_at - last.service_end
        since = last.finished_at
    else:
        assert last.started_at is not None
        delay = last.started_at - last.service_start
        since = last.started_at
    eta = own.arrival + max(delay, timedelta(0))
    return DayProgress("earlier_stop", eta, since, left)


def visit_day_progress(
    session: Session, *, visit_ids: list[int], day: date
) -> dict[int, DayProgress]:
    """The progress of each of these visits that a published route serves on ``day``."""
    rows = session.execute(
        select(PlanStop.visit_request_id, PlanRoute)
        .join(PlanRoute, PlanRoute.id == PlanStop.route_id)
        .join(FieldPlan, FieldPlan.id == PlanStop.plan_id)
        .where(
            PlanStop.visit_request_id.in_(visit_ids),
            FieldPlan.status == "published",
            PlanRoute.day == day,
        )
    ).all()
    out: dict[int, DayProgress] = {}
    for visit_id, route in rows:
        stops = [
            StopFacts(
                visit_id=s.visit_request_id,
                status=s.status,
                arrival=s.arrival,
                service_start=s.service_start,
                service_end=s.service_end,
                drive_minutes_before=s.drive_minutes_before,
                started_at=s.started_at,
                finished_at=s.finished_at,
            )
            for s in session.scalars(
                select(PlanStop).where(PlanStop.route_id == route.id).order_by(PlanStop.seq)
            )
        ]
        index = next(i for i, s in enumerate(stops) if s.visit_id == visit_id)
        out[visit_id] = progress_of(
            stops, index, break_start=route.break_start, break_minutes=route.break_minutes
        )
    return out
