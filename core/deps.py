"""FastAPI dependencies shared by every domain's router: the request's session, the
authenticated principal, and the check that an API request names no query parameter its
route does not take."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from core.errors import Forbidden, InvalidInput, Unauthorized
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


def _query_names(dependant: Any) -> set[str]:
    """The query parameters a route takes, its dependencies' included."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def reject_unknown_query_parameters(request: Request) -> None:
    """An API route refuses a query parameter it does not take (a 422 naming it), so a
    misspelt or unsupported filter never reads as "no filter". Pages are left alone."""
    route = request.scope.get("route")
    if route is None or not request.url.path.startswith("/api/"):
        return
    known = _query_names(route.dependant)
    unknown = sorted({name for name in request.query_params if name not in known})
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise InvalidInput(
            f"unknown query parameter {', '.join(map(repr, unknown))} (this route takes: {takes})"
        )


# The sites a technician works at (its routes' stops), for the registry, which knows no
# routes: the composition root (api.app) provides the function.
TechnicianSites = Callable[[Session, int], frozenset[int]]


def technician_sites(request: Request) -> TechnicianSites:
    """The composition root's ``TechnicianSites`` (a FastAPI dependency)."""
    provider: TechnicianSites = request.app.state.technician_sites
    return provider
