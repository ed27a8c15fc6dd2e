"""The technician's pages: the field app behind its secret link (the list of days at
``/t/<token>/``, a day at ``/t/<token>/<day>``: the map, the stops in order, and buttons
to start a stop, record an outcome per unit and finish it), installable and working
offline (``/t/<token>/manifest.webmanifest``, the service worker ``/t/<token>/sw.js``);
and the route sheet of a day in every format (``/t/<token>/<day>.<format>``, and with an
API key under ``/api/v1``). A technician sees only its own routes of published plans; a
support lead sees every route through the API.

The app's work goes to ``sync.py`` (the queue's target); what the pages show is worked
out in ``views.py``.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy.orm import Session

from api.pages import template
from api.pages.assets import STATIC_DIR, static_url
from api.pages.errors import PageRoute
from api.pages.technician import views
from core.deps import get_session, require_roles
from core.errors import InvalidInput, NotFound
from core.inputs import IdPath
from core.security import Principal
from routing.sheets.days import has_come, long_day, today_in
from routing.sheets.formats import FORMATS, render
from routing.sheets.service import RouteSheet, published_routes, route_sheet

PACKAGE = "api.pages.technician"
DOCUMENTS = {**FORMATS, "html": "text/html; charset=utf-8"}
SERVICE_WORKER = "fieldrecall/fieldapp-sw.js"
# The API's sheet answers errors as JSON; the pages behind the link answer them as pages.
api_router = APIRouter(tags=["route sheets"])
router = APIRouter(route_class=PageRoute, include_in_schema=False)
staff = require_roles("technician", "support_lead")


def _context(sheet: RouteSheet) -> dict[str, Any]:
    return {
        "s": sheet,
        "views": views,
        "long_day": long_day,
        "units": sum(len(x.work.units) for x in sheet.stops),
        "day_map": views.day_map(sheet),
        "can_record": has_come(sheet.day, sheet.timezone),
    }


def sheet_page(sheet: RouteSheet, app: dict[str, Any] | None = None) -> str:
    """The day's page: with ``app`` (the field app's settings) it has the buttons and
    works offline; without, it is the read-only, printable sheet."""
    return template(PACKAGE, "route_sheet.html").render(app=app, **_context(sheet))


def _document(session: Session, route_id: int, technician_id: int | None, fmt: str) -> Response:
    if fmt not in DOCUMENTS:
        raise InvalidInput(f"unknown format {fmt!r}; one of {', '.join(DOCUMENTS)}")
    sheet = route_sheet(session, route_id=route_id, technician_id=technician_id)
    body = sheet_page(sheet).encode() if fmt == "html" else render(sheet, fmt)
    filename = f"route-{sheet.technician_key}-{sheet.day.isoformat()}.{fmt}"
    disposition = "inline" if fmt in ("html", "json", "pdf") else "attachment"
    return Response(
        body,
        media_type=DOCUMENTS[fmt],
        headers={"Content-Disposition": f'{disposition}; filename="{filename}"'},
    )


@api_router.get("/api/v1/routes/{route_id}/sheet", response_class=Response)
def sheet(
    route_id: IdPath,
    format: str = Query("json", description=", ".join(DOCUMENTS)),
    principal: Principal = Depends(staff),
    session: Session = Depends(get_session),
) -> Response:
    """One route's sheet in any format; a technician reads only its own published routes."""
    return _document(session, route_id, principal.technician_id, format)


def _app(token: str, days: list[date], zone: str, day: date | None) -> dict[str, Any]:
    """The field app's settings on a page: where it lives, what day it is (and the zone
    the day runs in, for the phone's clock), and the pages to keep offline (the list of
    days, and every day from today on)."""
    base = f"/t/{token}/"
    today = today_in(zone)
    return {
        "base": base,
        "worker": f"{base}sw.js",
        "manifest": f"{base}manifest.webmanifest",
        "day": day.isoformat() if day else None,
        "today": today.isoformat(),
        "zone": zone,
        "keep": [base, *(views.day_url(base, d) for d in days if d >= today)],
    }


def _sheets(session: Session, technician_id: int) -> list[RouteSheet]:
    return [
        route_sheet(session, route_id=route_id, technician_id=technician_id)
        for route_id, _ in published_routes(session, technician_id=technician_id)
    ]


@router.get("/t/{token}")
def link_root(token: str, session: Session = Depends(get_session)) -> RedirectResponse:
    # The app's scope is /t/<token>/: the list of days lives inside it.
    views.link_holder(session, token)
    return RedirectResponse(f"/t/{token}/", status_code=308)


@router.get("/t/{token}/", response_class=HTMLResponse)
def link_index(token: str, session: Session = Depends(get_session)) -> HTMLResponse:
    holder = views.link_holder(session, token)
    sheets = _sheets(session, holder.technician_id)
    zone = sheets[0].timezone if sheets else "UTC"
    app = _app(token, [s.day for s in sheets], zone, None)
    return HTMLResponse(
        template(PACKAGE, "route_index.html").render(
            app=app,
            days=views.day_lines(sheets, app["base"]),
            name=sheets[0].technician_name if sheets else None,
            long_day=long_day,
            formats=list(FORMATS),
        )
    )


@cache
def _worker_script() -> bytes:
    return (STATIC_DIR / SERVICE_WORKER).read_bytes()


@router.get("/t/{token}/sw.js")
def service_worker(token: str, session: Session = Depends(get_session)) -> Response:
    """The field app's service worker, served inside the link so that its scope is the
    link's pages (the file itself lives with the other static files)."""
    views.link_holder(session, token)
    return Response(
        _worker_script(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/t/{token}/manifest.webmanifest")
def manifest(token: str, session: Session = Depends(get_session)) -> JSONResponse:
    """What makes the app installable: its name, start page, scope and icons."""
    views.link_holder(session, token)
    base = f"/t/{token}/"
    icons = [
        {"src": static_url(f"fieldrecall/icon-{size}.png"), "sizes": f"{size}x{size}"}
        for size in (192, 512)
    ]
    return JSONResponse(
        {
            "name": "fieldrecall: my route",
            "short_name": "My route",
            "start_url": base,
            "scope": base,
            "display": "standalone",
            "background_color": "#ffffff",
            "theme_color": "#111111",
            "icons": [{**icon, "type": "image/png", "purpose": "any"} for icon in icons]
            + [
                {"src": static_url("fieldrecall/icon.svg"), "sizes": "any", "type": "image/svg+xml"}
            ],
        },
        media_type="application/manifest+json",
    )


@router.get("/t/{token}/{day}.{fmt}", response_class=Response)
def link_sheet(
    token: str, day: date, fmt: str, session: Session = Depends(get_session)
) -> Response:
    holder = views.link_holder(session, token)
    if fmt == "html":  # the field app's page has taken the place of the html sheet
        return RedirectResponse(f"/t/{token}/{day.isoformat()}", status_code=308)
    routes = published_routes(session, technician_id=holder.technician_id, day=day)
    if not routes:
        raise NotFound(f"no published route on {day.isoformat()}")
    return _document(session, routes[0][0], holder.technician_id, fmt)


@router.get("/t/{token}/{day}", response_class=HTMLResponse)
def link_day(token: str, day: date, session: Session = Depends(get_session)) -> HTMLResponse:
    holder = views.link_holder(session, token)
    routes = published_routes(session, technician_id=holder.technician_id)
    route_id = next((rid for rid, d in routes if d == day), None)
    if route_id is None:
        raise NotFound(f"no published route on {long_day(day)}")
    sheet = route_sheet(session, route_id=route_id, technician_id=holder.technician_id)
    app = _app(token, [d for _, d in routes], sheet.timezone, day)
    return HTMLResponse(sheet_page(sheet, app))
