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
from core.security import Principal, principal_for

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
    session: Session = Depends(get_session),
    api_key: str | None = Security(_api_key_header),
    bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
) -> Principal:
    plain = api_key or (bearer.credentials if bearer else None)
    if not plain:
        raise Unauthorized("an API key is required (header X-API-Key or Authorization: Bearer)")
    principal = principal_for(session, plain)
    if principal is None:
        raise Unauthorized("unknown or revoked API key")
    return principal


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
