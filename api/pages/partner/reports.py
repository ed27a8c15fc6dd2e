"""The portal's failure reports: the partner's own reports with their timeline (reported,
acknowledged by notice, triaged, linked to a recall, resolved with the note), and a form
to report a failure (pick the unit, say what happens and when, in the site's time).

A report goes through the registry's one path for failure reports, so the rules of the
API hold (a unit of the partner's only, not in the future, not before it was installed),
and its follow-up too: linked at once to an active recall that covers the unit (the
technician's sheet shows it), acknowledged by notice, and put in the lead's inbox. The
form carries its report key from the moment it is shown, so a second tap on "Send"
stores nothing new.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.pages.errors import PageRoute
from api.pages.partner.access import Portal, current_portal
from api.pages.partner.render import portal_page
from core.deps import get_session
from core.errors import InvalidInput, NotFound
from devices.schemas import FailureIn
from devices.service import Reporter, report_failures
from recall.campaigns.partner_reports import partner_reports, reportable_units

portal = Depends(current_portal)
db = Depends(get_session)


def listing(p: Portal = portal, session: Session = db, sent: str | None = None) -> Response:
    reports = partner_reports(session, partner_id=p.partner_id)
    return portal_page(p, "portal_reports.html", reports=reports, sent=sent)


def new_report(p: Portal = portal, session: Session = db, serial: str | None = None) -> Response:
    units = reportable_units(session, partner_id=p.partner_id)
    zone = units[0].site_timezone if units else "UTC"
    return portal_page(
        p,
        "portal_report_new.html",
        units=units,
        chosen=serial,
        report_key=f"P-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4).upper()}",
        now=datetime.now(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M"),
    )


def send_report(
    request: Request,
    report_key: str = Form(..., min_length=1, max_length=100),
    serial: str = Form(..., min_length=1, max_length=100),
    symptom: str = Form(..., min_length=1, max_length=2000),
    occurred: str = Form(..., description="local time at the unit's site, YYYY-MM-DDTHH:MM"),
    p: Portal = portal,
    session: Session = db,
) -> Response:
    unit = next(
        (u for u in reportable_units(session, partner_id=p.partner_id) if u.serial == serial),
        None,
    )
    if unit is None:
        raise NotFound(f"no unit {serial!r} at your sites")
    try:
        when = datetime.fromisoformat(occurred).replace(tzinfo=ZoneInfo(unit.site_timezone))
        report = FailureIn(
            report_key=report_key,
            serial=serial,
            occurred_at=when,
            symptom=symptom.strip(),
            source="partner",
        )
    except ValueError as exc:
        detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise InvalidInput(f"please check the report: {detail}") from None
    report_failures(
        session,
        reports=[report],
        reporter=Reporter(p.actor, partner_id=p.partner_id, source="partner"),
        max_batch=1,
        follow_up=request.app.state.reports_follow_up,
    )
    return RedirectResponse(
        p.url(f"/reports?sent={report_key}#report-{report_key}"), status_code=303
    )


def reports_router(prefix: str) -> APIRouter:
    """The report pages under ``prefix`` (``/p/{token}`` or ``/portal``)."""
    router = APIRouter(prefix=prefix, route_class=PageRoute, include_in_schema=False)
    router.add_api_route("/reports", listing, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route("/reports/new", new_report, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route("/reports", send_report, methods=["POST"])
    return router
