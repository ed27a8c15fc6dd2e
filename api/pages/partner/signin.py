"""Signing in to the portal with a partner key, and out again: the same cookie sessions as
the console's (``api.pages.sessions.CookieSessions``), under ``/portal``. The key is sent
once, in a form post; the cookie holds the key's id and a CSRF token, never the key."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from api.pages.errors import PageRoute
from api.pages.partner.access import PORTAL, Portal, current_portal, safe_next, sign_in
from api.pages.partner.render import PACKAGE, portal_page
from core.deps import get_session

router = APIRouter(prefix="/portal", route_class=PageRoute, include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    return PORTAL.sign_in_page(
        request, package=PACKAGE, template="portal_login.html", next_path=safe_next(next)
    )


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    api_key: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form("/portal/"),
    session: Session = Depends(get_session),
) -> Response:
    """Exchange a partner key for a session cookie; any other key gets the form back with
    the reason (401 or 403)."""
    return PORTAL.sign_in(
        request,
        form_token=csrf_token,
        principal_of=lambda: sign_in(session, api_key),
        next_path=safe_next(next),
        package=PACKAGE,
        template="portal_login.html",
    )


@router.get("/logout", response_class=HTMLResponse)
def logout_form(p: Portal = Depends(current_portal)) -> Response:
    return portal_page(p, "portal_logout.html")


@router.post("/logout")
def logout(p: Portal = Depends(current_portal)) -> Response:
    response = RedirectResponse(PORTAL.login_path, status_code=303)
    PORTAL.end(response)
    return response
