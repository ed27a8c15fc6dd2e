"""Who may use the partner portal, and as whom.

Two ways in, one portal: the partner's secret link (``/p/<token>/``, the address its
notices carry; the token in the address is the secret, so its forms need nothing more),
or its partner API key, signed in once at ``/portal/login`` for a session cookie like the
console's (``CookieSessions``; every form then carries the session's CSRF token). Both
give a ``Portal``: the partner, the address its pages live under, and who acts. An
unknown, revoked or expired link, or a technician's, answers a 404 page that says what
to do; a key of another role cannot sign in.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.pages.errors import LinkGone
from api.pages.sessions import CookieSessions, presented_csrf
from core.deps import get_session
from core.errors import Forbidden, NotFound, Unauthorized
from core.security import Principal, principal_for
from devices.models import Partner
from recall.campaigns.visits import partner_link

PORTAL = CookieSessions(
    surface="portal", roles=("partner",), path="/portal", login_path="/portal/login"
)
LINK_GONE = (
    "This link opens nothing: it may have been revoked, replaced or have expired. The "
    "newest notice we sent you carries your current link; or sign in with your partner "
    "key at /portal/login."
)


@dataclass(frozen=True)
class Portal:
    """The partner using the portal, where its pages live, and the CSRF token its forms
    carry (None behind a link: the address is the secret)."""

    partner_id: int
    partner_key: str
    partner_name: str
    base: str  # "/p/<token>" or "/portal"
    actor: str
    csrf_token: str | None = None
    token: str | None = None  # the link's token (its calendar feed), when opened by link

    def url(self, path: str = "/") -> str:
        return self.base + path


def _portal(partner: Partner, base: str, actor: str, **extra: str | None) -> Portal:
    return Portal(partner.id, partner.partner_key, partner.name, base, actor, **extra)


def by_link(session: Session, token: str) -> Portal:
    try:
        link_id, partner = partner_link(session, token)
    except NotFound:
        raise LinkGone(LINK_GONE) from None
    return _portal(partner, f"/p/{token}", f"partner:link{link_id}", token=token)


def current_portal(
    request: Request,
    session: Session = Depends(get_session),
    csrf: str | None = Depends(presented_csrf),
) -> Portal:
    """The dependency of every portal route: the link in the address, else the session."""
    token = request.path_params.get("token")
    if token is not None:
        return by_link(session, str(token))
    signed_in = PORTAL.current(request, session, csrf)
    partner = session.get_one(Partner, signed_in.principal.partner_id)
    return _portal(partner, "/portal", signed_in.principal.actor, csrf_token=signed_in.csrf_token)


def sign_in(session: Session, api_key: str) -> Principal:
    """The principal of a partner key; otherwise a refusal that says why."""
    if not api_key.strip():
        raise Unauthorized("Enter your partner API key.")
    principal = principal_for(session, api_key.strip())
    if principal is None:
        raise Unauthorized("That key is unknown or has been revoked.")
    if principal.role not in PORTAL.roles:
        raise Forbidden(f"This portal is for partners; a {principal.role} key cannot sign in here.")
    return principal


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a portal address, never another site."""
    if target and target.startswith("/portal/") and not target.startswith("/portal//"):
        return target
    return "/portal/"
