"""FastAPI dependencies shared by every domain's router: the request's session and the
authenticated principal."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from core.errors import Forbidden, Unauthorized
from core.security import Principal, PrincipalCache

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)
_bearer = HTTPBearer(auto_error=False)


def get_session(request: Request) -> Iterator[Session]:
    """One session per request: commits on success, rolls back on any error."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def current_principal(
    request: Request,
    session: Session = Depends(get_session),
    api_key: str | None = Security(_api_key_header),
    bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
) -> Principal:
    # A request with a body was authenticated before its body was read (api/guards.py).
    found = getattr(request.state, "principal", None)
    if isinstance(found, Principal):
        return found
    plain = api_key or (bearer.credentials if bearer else None)
    if not plain:
        raise Unauthorized("an API key is required (header X-API-Key or Authorization: Bearer)")
    principal = principals(request).principal(session, plain)
    if principal is None:
        raise Unauthorized("unknown or revoked API key")
    return principal


def principals(request: Request) -> PrincipalCache:
    """The app's cache of recently seen keys (made by the composition root, api.app)."""
    cache: PrincipalCache = request.app.state.principals
    return cache


def require_roles(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that admits only the given roles (403 for the others)."""

    def check(principal: Principal = Depends(current_principal)) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"this needs a {' or '.join(roles)} key, not a {principal.role} key")
        return principal

    return check


# The sites a technician works at (its routes' stops), for the registry, which knows no
# routes: the composition root (api.app) provides the function.
TechnicianSites = Callable[[Session, int], frozenset[int]]


def technician_sites(request: Request) -> TechnicianSites:
    """The composition root's ``TechnicianSites`` (a FastAPI dependency)."""
    provider: TechnicianSites = request.app.state.technician_sites
    return provider
