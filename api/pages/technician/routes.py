"""The technician's pages: the route sheet of a day in every format (the phone page and
the PDF, iCalendar, GPX and GeoJSON exports), with an API key under ``/api/v1`` and behind
the technician's secret link under ``/t/<token>`` (for phones, printers, calendars and
navigators, which cannot send a key). A technician sees only its own routes of published
plans; a support lead sees every route."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.pages import template
from core.deps import get_session, require_roles
from core.errors import InvalidInput, NotFound
from core.inputs import IdPath
from core.links import link_for_token
from core.security import Principal
from routing.sheets.formats import FORMATS, local_hm, render
from routing.sheets.service import RouteSheet, published_routes, route_sheet

PACKAGE = "api.pages.technician"
DOCUMENTS = {**FORMATS, "html": "text/html; charset=utf-8"}
router = APIRouter(tags=["route sheets"])
staff = require_roles("technician", "support_lead")


def phone_page(sheet: RouteSheet) -> str:
    """The phone page: stops in order, big ETAs, tap-to-call, printable."""
    return template(PACKAGE, "route_sheet.html").render(
        s=sheet,
        hm=lambda moment: local_hm(sheet, moment),
        units=sum(len(x.work.units) for x in sheet.stops),
    )


def _document(session: Session, route_id: int, technician_id: int | None, fmt: str) -> Response:
    if fmt not in DOCUMENTS:
        raise InvalidInput(f"unknown format {fmt!r}; one of {', '.join(DOCUMENTS)}")
    sheet = route_sheet(session, route_id=route_id, technician_id=technician_id)
    body = phone_page(sheet).encode() if fmt == "html" else render(sheet, fmt)
    filename = f"route-{sheet.technician_key}-{sheet.day.isoformat()}.{fmt}"
    disposition = "inline" if fmt in ("html", "json", "pdf") else "attachment"
    return Response(
        body,
        media_type=DOCUMENTS[fmt],
        headers={"Content-Disposition": f'{disposition}; filename="{filename}"'},
    )


@router.get("/api/v1/routes/{route_id}/sheet", response_class=Response)
def sheet(
    route_id: IdPath,
    format: str = Query("json", description=", ".join(DOCUMENTS)),
    principal: Principal = Depends(staff),
    session: Session = Depends(get_session),
) -> Response:
    """One route's sheet in any format; a technician reads only its own published routes."""
    return _document(session, route_id, principal.technician_id, format)


def _technician_of(session: Session, token: str) -> int:
    link = link_for_token(session, token)
    if link.technician_id is None:
        raise NotFound("nothing at this address (the link may have been replaced)")
    return link.technician_id


@router.get("/t/{token}", response_class=HTMLResponse, include_in_schema=False)
def link_index(token: str, session: Session = Depends(get_session)) -> HTMLResponse:
    technician_id = _technician_of(session, token)
    routes = published_routes(session, technician_id=technician_id)
    return HTMLResponse(
        template(PACKAGE, "route_index.html").render(
            routes=routes, base=f"/t/{token}", formats=list(FORMATS)
        )
    )


@router.get("/t/{token}/{day}.{fmt}", response_class=Response, include_in_schema=False)
def link_sheet(
    token: str, day: date, fmt: str, session: Session = Depends(get_session)
) -> Response:
    technician_id = _technician_of(session, token)
    routes = published_routes(session, technician_id=technician_id, day=day)
    if not routes:
        raise NotFound(f"no published route on {day.isoformat()}")
    return _document(session, routes[0][0], technician_id, fmt)
