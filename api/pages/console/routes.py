"""The console's own pages: sign-in and sign-out, and the home page (failure reports per
week, the map of the sites, and the sections). Every route but the sign-in form depends
on ``console_lead`` (a signed-in support lead; the CSRF token for forms)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from api.pages import page
from api.pages.console.access import CONSOLE, console_lead, safe_next, sign_in
from api.pages.console.home import home
from api.pages.errors import PageRoute
from api.pages.sessions import PageSession
from core.deps import get_session
from core.errors import Forbidden, Unauthorized

PACKAGE = "api.pages.console"
router = APIRouter(prefix="/console", route_class=PageRoute, include_in_schema=False)
lead = Depends(console_lead)

# The console's sections (the home page links each).
SECTIONS = (
    ("Signals", "/console/signals", "Batches failing more in the cold: the evidence"),
    ("Campaigns", "/console/campaigns", "Recalls: ledger, plans, follow-up"),
    ("Failures", "/console/failures", "Failure reports by status and age"),
    ("Outbox", "/console/outbox", "Notices to partners, dead letters"),
)


def _sign_in_page(
    request: Request, *, next_path: str, error: str | None = None, status_code: int = 200
) -> Response:
    token = CONSOLE.sign_in_form_token()
    response = page(
        PACKAGE,
        "login.html",
        status_code=status_code,
        sign_in_token=token,
        next_path=next_path,
        error=error,
    )
    CONSOLE.arm_sign_in_form(request, response, token)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    return _sign_in_page(request, next_path=safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    api_key: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form("/console/"),
    session: Session = Depends(get_session),
) -> Response:
    """Exchange a support-lead key for a session cookie; any other key gets the form back
    with the reason (401 or 403)."""
    try:
        CONSOLE.check_sign_in_form(request, csrf_token)
        principal = sign_in(session, api_key)
    except (Unauthorized, Forbidden) as refused:
        return _sign_in_page(
            request,
            next_path=safe_next(next),
            error=str(refused.detail),
            status_code=refused.status_code,
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    CONSOLE.start(request, response, principal)
    return response


@router.get("/logout", response_class=HTMLResponse)
def logout_form(signed_in: PageSession = lead) -> Response:
    return page(PACKAGE, "logout.html", csrf_token=signed_in.csrf_token)


@router.post("/logout")
def logout(signed_in: PageSession = lead) -> Response:
    response = RedirectResponse(CONSOLE.login_path, status_code=303)
    CONSOLE.end(response)
    return response


@router.get("/", response_class=HTMLResponse)
def console_home(
    signed_in: PageSession = lead, session: Session = Depends(get_session)
) -> Response:
    return page(
        PACKAGE,
        "home.html",
        csrf_token=signed_in.csrf_token,
        home=home(session),
        sections=SECTIONS,
    )
