"""Who may use the console: a support lead signed in with its API key.

Every console route depends on ``console_lead``: it answers the signed-in support lead's
``PageSession`` (its principal and the CSRF token its forms carry), and refuses anything
else. A page load without a valid session (no cookie, a forged or expired one, a revoked
key) goes to ``/console/login`` and comes back after; a session of another role is a 403
page; a request that may change something without the session's CSRF token is a 403 page
and changes nothing. API keys in headers do not count here: the console knows only its
cookie.
"""

from __future__ import annotations

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.pages.sessions import CookieSessions, PageSession, presented_csrf
from core.deps import get_session
from core.errors import Forbidden, Unauthorized
from core.security import Principal, principal_for

CONSOLE = CookieSessions(
    surface="console", roles=("support_lead",), path="/console", login_path="/console/login"
)
# Where each other role goes instead, said on the refusal page.
ELSEWHERE = {
    "partner": "Partners see their sites through the link in their notices.",
    "technician": "Technicians open their route sheets through their own link.",
}


def console_lead(
    request: Request,
    session: Session = Depends(get_session),
    csrf: str | None = Depends(presented_csrf),
) -> PageSession:
    """The dependency of every console route: the signed-in support lead."""
    return CONSOLE.current(request, session, csrf)


def sign_in(session: Session, api_key: str) -> Principal:
    """The principal of a key that may sign in to the console; otherwise a refusal that
    says why (401 for an unknown or revoked key, 403 for another role)."""
    if not api_key.strip():
        raise Unauthorized("Enter a support-lead API key.")
    principal = principal_for(session, api_key.strip())
    if principal is None:
        raise Unauthorized("That key is unknown or has been revoked.")
    if principal.role not in CONSOLE.roles:
        raise Forbidden(
            f"This console is for support leads; a {principal.role} key cannot sign in here. "
            + ELSEWHERE.get(principal.role, "")
        )
    return principal


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console address, never another site."""
    if target and target.startswith("/console/") and not target.startswith("/console//"):
        return target
    return "/console/"
