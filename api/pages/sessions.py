"""Signed session cookies for the pages a user signs in to with an API key (the console
today), and the CSRF tokens that go with them.

A session cookie holds the id of the API key used to sign in and the session's CSRF
token, signed with the page secret (``FIELDRECALL_SESSION_SECRET``; itsdangerous, an HMAC
over the value and its timestamp) and refused once older than its lifetime
(``FIELDRECALL_CONSOLE_SESSION_HOURS``). It never holds the key itself, and is HttpOnly,
SameSite=Lax, Secure on https, and limited to the surface's path. Every request looks the
key up again, so revoking a key ends its sessions at once.

CSRF: every form carries the session's token in the field ``csrf_token``, and htmx requests
send it in the header ``X-CSRF-Token`` (``pages.js`` adds it from
``<meta name="csrf-token">``). A request that may change something (any method but GET,
HEAD and OPTIONS) without the right token is refused with 403 and changes nothing. The
sign-in form, before any session exists, is protected the same way by a token that a
short-lived cookie of the sign-in page must match (double submit).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from functools import cache

from fastapi import Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from api.pages.errors import SignInRequired
from core.errors import Forbidden
from core.security import Principal, principal_by_key_id
from core.settings import Settings

log = logging.getLogger("fieldrecall.pages")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SIGN_IN_FORM_SECONDS = 3600


@cache
def _process_secret() -> str:
    log.warning(
        "FIELDRECALL_SESSION_SECRET is not set: console sessions are signed with a random "
        "secret of this process; they end when it restarts and other processes reject them"
    )
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class PageKeys:
    """What signs and bounds the page sessions of one app (``app.state.page_keys``)."""

    secret: str
    session_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> PageKeys:
        configured = settings.session_secret
        return cls(
            secret=configured.get_secret_value() if configured else _process_secret(),
            session_seconds=round(settings.console_session_hours * 3600),
        )


@dataclass(frozen=True)
class PageSession:
    """A signed-in user: who, and the CSRF token its forms carry."""

    principal: Principal
    csrf_token: str


async def presented_csrf(request: Request) -> str | None:
    """The CSRF token a state-changing request presents (header or form field)."""
    if request.method in SAFE_METHODS:
        return None
    token = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if token is None and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    return token


def _same(presented: str | None, expected: str) -> bool:
    return presented is not None and secrets.compare_digest(presented, expected)


@dataclass(frozen=True)
class CookieSessions:
    """Sign-in by cookie for one surface: ``surface`` names the cookie and the signing
    salt, ``roles`` may sign in, ``path`` bounds the cookie, ``login_path`` signs in."""

    surface: str
    roles: tuple[str, ...]
    path: str
    login_path: str

    @property
    def cookie(self) -> str:
        return f"fieldrecall_{self.surface}"

    @property
    def login_cookie(self) -> str:
        return f"fieldrecall_{self.surface}_sign_in"

    def serializer(self, keys: PageKeys) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(keys.secret, salt=f"fieldrecall.{self.surface}.session")

    def start(self, request: Request, response: Response, principal: Principal) -> None:
        """Sign ``principal`` in: set the session cookie, with a fresh CSRF token."""
        keys: PageKeys = request.app.state.page_keys
        value = self.serializer(keys).dumps(
            {"key": principal.key_id, "csrf": secrets.token_urlsafe(32)}
        )
        self._set(request, response, self.cookie, value, keys.session_seconds, self.path)
        response.delete_cookie(self.login_cookie, path=self.login_path)

    def end(self, response: Response) -> None:
        response.delete_cookie(self.cookie, path=self.path, httponly=True, samesite="lax")

    def current(self, request: Request, session: Session, csrf: str | None) -> PageSession:
        """The signed-in user of this request; for a state-changing request, only with the
        session's CSRF token. Raises SignInRequired (no, a forged or an expired cookie, a
        revoked key) or Forbidden (another role, a missing or wrong CSRF token)."""
        raw = request.cookies.get(self.cookie)
        if raw is None:
            raise SignInRequired("Please sign in.", login_path=self.login_path)
        keys: PageKeys = request.app.state.page_keys
        try:
            data = self.serializer(keys).loads(raw, max_age=keys.session_seconds)
            key_id, token = int(data["key"]), str(data["csrf"])
        except SignatureExpired:
            raise SignInRequired(
                "Your session has expired; please sign in again.", login_path=self.login_path
            ) from None
        except (BadSignature, KeyError, TypeError, ValueError):
            raise SignInRequired("Please sign in again.", login_path=self.login_path) from None
        principal = principal_by_key_id(session, key_id)
        if principal is None:
            raise SignInRequired(
                "The key you signed in with was revoked; please sign in with another.",
                login_path=self.login_path,
            )
        if principal.role not in self.roles:
            raise Forbidden(f"A {principal.role} key cannot use these pages.")
        if request.method not in SAFE_METHODS and not _same(csrf, token):
            raise Forbidden(
                "This form's security token is missing or out of date; reload the page and "
                "try again."
            )
        return PageSession(principal=principal, csrf_token=token)

    @staticmethod
    def sign_in_form_token() -> str:
        """A new CSRF token for the sign-in form; ``arm_sign_in_form`` sets its cookie."""
        return secrets.token_urlsafe(32)

    def arm_sign_in_form(self, request: Request, response: Response, token: str) -> None:
        """Set the short-lived cookie the sign-in form's token must match."""
        self._set(
            request, response, self.login_cookie, token, SIGN_IN_FORM_SECONDS, self.login_path
        )

    def check_sign_in_form(self, request: Request, presented: str | None) -> None:
        expected = request.cookies.get(self.login_cookie)
        if expected is None or not _same(presented, expected):
            raise Forbidden(
                "The sign-in form was out of date (or cookies are blocked); please try again."
            )

    @staticmethod
    def _set(
        request: Request, response: Response, name: str, value: str, seconds: int, path: str
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=seconds,
            path=path,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
