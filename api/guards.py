"""What every request passes before a route runs or its body is read (an ASGI middleware):

1. Its path and query string carry no control character (core.inputs): a 422 naming the
   parameter, instead of a NUL reaching PostgreSQL or a newline reaching a notice.
2. Its body fits the limit of its route: ``FIELDRECALL_MAX_UPLOAD_BYTES`` for CSV imports,
   ``FIELDRECALL_MAX_JSON_BYTES`` for everything else. A declared Content-Length over the
   limit is a 413 at once, before authentication does any work; a body sent without one
   (chunked) is counted as it arrives and cut off at the limit.
3. An API request with a body is authenticated *before* the body is read: an unknown key,
   or no credentials at all, is a 401 without a byte of the body read. (A request that
   carries only a cookie is left to its route's own sign-in check; its body is still
   bounded by the limit.) The principal found is handed to the route's dependency, so a
   key is looked up once.

Secret links' tokens sit in paths (``/p/<token>``): the access log writes them redacted.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from api.pages.errors import link_refusal
from core.inputs import line_problem
from core.settings import get_settings

IMPORTS_PREFIX = "/api/v1/imports/"
API_PREFIX = "/api/v1/"
PRINCIPAL = "principal"  # the scope["state"] entry core.deps reads


def url_problem(path: str, query_string: bytes) -> str | None:
    """Why a request's path or query string is refused, or None."""
    problem = line_problem(path)
    if problem:
        return f"the path {problem}"
    query = query_string.decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        for part, text in (("name", name), ("value", value)):
            problem = line_problem(text)
            if problem:
                return f"the query parameter {part} {name[:40]!r} {problem}"
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _api_key(scope: Scope) -> str | None:
    key = _header(scope, b"x-api-key")
    if key:
        return key
    authorization = _header(scope, b"authorization") or ""
    scheme, _, credentials = authorization.partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


class RequestGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = url_problem(scope["path"], scope.get("query_string", b""))
        if problem:
            page = link_refusal(scope["path"], 422, f"This address cannot be read: {problem}.")
            await (page or error_response("InvalidInput", problem, 422))(scope, receive, send)
            return
        settings = get_settings()
        path: str = scope["path"]
        limit = (
            settings.max_upload_bytes
            if path.startswith(IMPORTS_PREFIX)
            else settings.max_json_bytes
        )
        declared = _header(scope, b"content-length")
        chunked = "chunked" in (_header(scope, b"transfer-encoding") or "").lower()
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            detail = f"the request body is larger than the limit of {limit} bytes"
            await error_response("PayloadTooLarge", detail, 413)(scope, receive, send)
            return
        has_body = chunked or (declared is not None and int(declared) > 0)
        if has_body and path.startswith(API_PREFIX):
            # In a worker thread: a database call must never block the event loop, which
            # the requests holding the pool's connections need to finish.
            refusal = await anyio.to_thread.run_sync(self._authenticate, scope)
            if refusal:
                await error_response("Unauthorized", refusal, 401)(scope, receive, send)
                return
        await self.app(scope, _counting(receive, limit), send)

    def _authenticate(self, scope: Scope) -> str | None:
        """Find the caller before the body is read; the reason to refuse, or None."""
        plain = _api_key(scope)
        if plain is None:
            if _header(scope, b"cookie") is not None:
                return None  # a signed-in page's request: its route checks the cookie
            return "an API key is required (header X-API-Key or Authorization: Bearer)"
        with scope["app"].state.session_factory() as session:
            principal = scope["app"].state.principals.principal(session, plain)
        if principal is None:
            return "unknown or revoked API key"
        scope.setdefault("state", {})[PRINCIPAL] = principal
        return None


def _counting(receive: Receive, limit: int) -> Receive:
    """``receive`` that stops a body at ``limit`` bytes, however it is sent."""
    received = 0

    async def guarded() -> Message:
        nonlocal received
        message: dict[str, Any] = dict(await receive())
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(
                    413, f"the request body is larger than the limit of {limit} bytes"
                )
        return message

    return guarded


# A secret link's token (core/links.py), in whatever path or query it appears.
_TOKEN = re.compile(r"lnk_[A-Za-z0-9_-]+")


class RedactTokens(logging.Filter):
    """Writes ``lnk_[redacted]`` for every secret-link token in a log record's text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN.sub("lnk_[redacted]", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _TOKEN.sub("lnk_[redacted]", record.msg)
        return True


def redact_access_log() -> None:
    """Keep secret links out of uvicorn's access log (once per process)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())
