"""Signing in to the portal with a partner key, and out again: the same cookie sessions as
the console's (``api.pages.sessions.CookieSessions``), under ``/portal``. The key is sent
once, in a form post; the cookie holds the key's id and a CSRF token, never the key."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from api.pages import page
from api.pages.errors import PageRoute
from api.pages.partner.access import PORTAL, Portal, current_portal, safe_next, sign_in
from api.pages.partner.render import PACKAGE, portal_page
from core.deps import get_session
from core.errors import Forbidden, Unauthorized

router = APIRouter(prefix="/portal", route_class=PageRoute, include_in_schema=False)


def _sign_in_page(
    request: Request, *, next_path: str, error: str | None = None, status_code: int = 200
) -> Response:
    token = PORTAL.sign_in_form_token()
    response = page(
        PACKAGE,
        "portal_login.html",
        status_code=status_code,
        sign_in_token=token,
        next_path=next_path,
        error=error,
    )
    PORTAL.arm_sign_in_form(request, response, token)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    return _sign_in_page(request, next_path=safe_next(next))


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
    try:
        PORTAL.check_sign_in_form(request, csrf_token)
        principal = sign_in(session, api_key)
    except (Unauthorized, Forbidden) as refused:
        return _sign_in_page(
            request,
            next_path=safe_next(next),
            error=str(refused.detail),
            status_code=refused.status_code,
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    PORTAL.start(request, response, principal)
    return response


@router.get("/logout", response_class=HTMLResponse)
def logout_form(p: Portal = Depends(current_portal)) -> Response:
    return portal_page(p, "portal_logout.html")


@router.post("/logout")
def logout(p: Portal = Depends(current_portal)) -> Response:
    response = RedirectResponse(PORTAL.login_path, status_code=303)
    PORTAL.end(response)
    return response
