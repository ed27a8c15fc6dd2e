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

PACKAGE = "api.pages.console"
router = APIRouter(prefix="/console", route_class=PageRoute, include_in_schema=False)
lead = Depends(console_lead)

# The console's sections (the home page links each).
SECTIONS = (
    ("Signals", "/console/signals", "Batches failing more in the cold: the evidence"),
    ("Campaigns", "/console/campaigns", "Recalls: ledger, plans, follow-up"),
    ("Failures", "/console/failures", "Failure reports by status and age"),
    ("Inbox", "/console/inbox", "What partners did: confirmations, reschedules, refusals"),
    ("Outbox", "/console/outbox", "Notices to partners, dead letters"),
)


def _sign_in_page(request: Request, *, next_path: str) -> Response:
    return CONSOLE.sign_in_page(
        request, package=PACKAGE, template="login.html", next_path=next_path
    )


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
    return CONSOLE.sign_in(
        request,
        form_token=csrf_token,
        principal_of=lambda: sign_in(session, api_key),
        next_path=safe_next(next),
        package=PACKAGE,
        template="login.html",
    )


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
