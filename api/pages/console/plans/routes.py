"""Plans in the console: start a plan, watch it solve (the progress fragment, polled by
htmx while a worker solves), see it one day at a time on a map and as a timeline per
technician, the visits left out and why, publish it, re-plan the published one, record a
technician's absence or a site's closure, and open any technician's sheet of a day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api.pages.console.access import console_lead
from api.pages.console.plans.view import UNASSIGNED_REASONS, plan_day
from api.pages.console.render import back_to, console_page, fragment, see_other
from api.pages.errors import PageRoute
from api.pages.sessions import PageSession
from core.deps import get_session
from core.errors import NotFound
from core.pagination import PageRequest
from core.settings import get_settings
from devices import repository as registry
from recall.campaigns import repository as campaign_repository
from recall.campaigns import service as campaigns
from routing.plans import availability
from routing.plans import service as plans
from routing.plans.schemas import PlanDetailOut
from routing.sheets.service import route_sheet

router = APIRouter(prefix="/console", route_class=PageRoute, include_in_schema=False)
lead = Depends(console_lead)
RUNNING = ("queued", "running")
TECHNICIANS_LISTED = 1000


def _plan_of(session: Session, campaign_id: int, plan_id: int) -> PlanDetailOut:
    plan = plans.plan_detail(session, plan_id=plan_id)
    if plan.campaign_id != campaign_id:
        raise NotFound(f"recall {campaign_id} has no plan {plan_id}")
    return plan


def _plan_path(campaign_id: int, plan_id: int) -> str:
    return f"/console/campaigns/{campaign_id}/plans/{plan_id}"


@router.post("/campaigns/{campaign_id}/plans")
def start_plan(
    campaign_id: int,
    first_day: date = Form(...),
    last_day: date = Form(...),
    seconds: float = Form(..., gt=0),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    """Queue a plan; its page shows the worker's progress."""
    plan = plans.start_plan(
        session,
        campaign_id=campaign_id,
        first_day=first_day,
        last_day=last_day,
        seconds=seconds,
        actor=signed_in.principal.actor,
        settings=get_settings(),
    )
    return see_other(_plan_path(campaign_id, plan.id))


@router.get("/campaigns/{campaign_id}/plans/{plan_id}", response_class=HTMLResponse)
def plan_page(
    campaign_id: int,
    plan_id: int,
    day: date | None = Query(None),
    published: int | None = Query(None, ge=0),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    plan = _plan_of(session, campaign_id, plan_id)
    campaign = campaigns.get_campaign(session, campaign_id=campaign_id, partner_id=None)
    technicians, _ = registry.list_technicians(
        session, technician_id=None, page=PageRequest(limit=TECHNICIANS_LISTED, offset=0)
    )
    return console_page(
        "plan.html",
        signed_in,
        plan=plan,
        campaign=campaign,
        shown=plan_day(plan, day),
        reasons=UNASSIGNED_REASONS,
        running=plan.status in RUNNING,
        published=published,
        technicians=technicians,
        sites=campaign_repository.campaign_sites(session, campaign_id=campaign_id),
        absences=availability.list_absences(session, first_day=plan.first_day),
        closures=availability.list_closures(session, first_day=plan.first_day),
        published_plan=plans.published_plan(session, campaign_id),
    )


@router.get("/campaigns/{campaign_id}/plans/{plan_id}/progress", response_class=HTMLResponse)
def plan_progress(
    campaign_id: int,
    plan_id: int,
    request: Request,
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    """The progress box alone (htmx polls it while the plan is queued or running); once
    the solve is over, a poll tells the browser to reload the whole page."""
    plan = plans.plan_out(plans.get_plan_row(session, plan_id))  # no routes: it is polled
    if plan.campaign_id != campaign_id:
        raise NotFound(f"recall {campaign_id} has no plan {plan_id}")
    running = plan.status in RUNNING
    response = fragment("plan_progress.html", plan=plan, running=running)
    if not running and request.headers.get("HX-Request") == "true":
        response.headers["HX-Refresh"] = "true"
    return response


@router.post("/campaigns/{campaign_id}/plans/{plan_id}/publish")
def publish(
    campaign_id: int,
    plan_id: int,
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    """Publish a done plan: its visits are scheduled and partners told (409 otherwise)."""
    _plan_of(session, campaign_id, plan_id)
    out = plans.publish(session, plan_id=plan_id, actor=signed_in.principal.actor)
    return see_other(_plan_path(campaign_id, plan_id), published=len(out.new) + len(out.moved))


@router.post("/campaigns/{campaign_id}/replan")
def replan(
    campaign_id: int,
    today: date | None = Form(None),
    last_day: date | None = Form(None),
    seconds: float | None = Form(None, gt=0),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    """A re-plan of the published plan, from today: today's routes and confirmed visits
    stay, absences and closures are fed in."""
    plan = plans.start_replan(
        session,
        campaign_id=campaign_id,
        actor=signed_in.principal.actor,
        settings=get_settings(),
        today=today,
        last_day=last_day,
        seconds=seconds,
    )
    return see_other(_plan_path(campaign_id, plan.id))


@dataclass(frozen=True)
class DaysOff:
    """The days of an absence or a closure as the form gives them."""

    first_day: date
    last_day: date | None
    reason: str | None
    back: str

    def done(self) -> Response:
        return see_other(back_to(self.back, within="/console/campaigns/"))


def days_off(
    first_day: date = Form(...),
    last_day: date | None = Form(None),
    reason: str = Form("", max_length=2000),
    back: str = Form("/console/campaigns"),
) -> DaysOff:
    return DaysOff(first_day, last_day, reason.strip() or None, back)


@router.post("/absences")
def record_absence(
    technician_key: str = Form(..., min_length=1, max_length=100),
    days: DaysOff = Depends(days_off),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    """The technician will not work those days; the next re-plan moves its visits."""
    availability.record_absence(
        session,
        technician_key=technician_key,
        first_day=days.first_day,
        last_day=days.last_day,
        reason=days.reason,
        actor=signed_in.principal.actor,
    )
    return days.done()


@router.post("/site-closures")
def record_closure(
    site_key: str = Form(..., min_length=1, max_length=100),
    days: DaysOff = Depends(days_off),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    """The site is closed those days, whatever its opening hours say."""
    availability.record_closure(
        session,
        site_key=site_key,
        first_day=days.first_day,
        last_day=days.last_day,
        reason=days.reason,
        actor=signed_in.principal.actor,
    )
    return days.done()


@router.get("/routes/{route_id}", response_class=HTMLResponse)
def sheet(
    route_id: int, signed_in: PageSession = lead, session: Session = Depends(get_session)
) -> Response:
    """A technician's sheet of one day, as the technician sees it (any plan's route)."""
    sheet = route_sheet(session, route_id=route_id, technician_id=None)
    return console_page("sheet.html", signed_in, s=sheet)
