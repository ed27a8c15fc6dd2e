"""Route sheets over HTTP: with an API key under /api/v1, and behind a technician's secret
link under /t/<token> (for phones, printers, calendars and navigators). A technician sees
only its own routes of published plans; a support lead sees every route."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from core.deps import get_session, require_roles
from core.errors import InvalidInput, NotFound
from core.links import link_for_token
from core.security import Principal
from core.templates import template
from routing.sheet_formats import FORMATS, render
from routing.sheets import published_routes, route_sheet

router = APIRouter(tags=["route sheets"])
staff = require_roles("technician", "support_lead")


class RouteRef(BaseModel):
    route_id: int
    day: date


def _sheet_response(
    session: Session, route_id: int, technician_id: int | None, fmt: str
) -> Response:
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    sheet = route_sheet(session, route_id=route_id, technician_id=technician_id)
    filename = f"route-{sheet.technician_key}-{sheet.day.isoformat()}.{fmt}"
    disposition = "inline" if fmt in ("html", "json", "pdf") else "attachment"
    return Response(
        render(sheet, fmt),
        media_type=FORMATS[fmt],
        headers={"Content-Disposition": f'{disposition}; filename="{filename}"'},
    )


@router.get("/api/v1/technicians/me/routes", response_model=list[RouteRef])
def my_routes(
    day: date | None = Query(None),
    principal: Principal = Depends(require_roles("technician")),
    session: Session = Depends(get_session),
) -> list[RouteRef]:
    """The caller's routes in published plans, by day."""
    assert principal.technician_id is not None
    return [
        RouteRef(route_id=rid, day=d)
        for rid, d in published_routes(session, technician_id=principal.technician_id, day=day)
    ]


@router.get("/api/v1/routes/{route_id}/sheet", response_class=Response)
def sheet(
    route_id: int,
    format: str = Query("json", description=", ".join(FORMATS)),
    principal: Principal = Depends(staff),
    session: Session = Depends(get_session),
) -> Response:
    """One route's sheet in any format; a technician reads only its own published routes."""
    return _sheet_response(session, route_id, principal.technician_id, format)


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
        template("routing", "route_index.html").render(
            routes=routes, base=f"/t/{token}", formats=[f for f in FORMATS if f != "html"]
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
    return _sheet_response(session, routes[0][0], technician_id, fmt)
