"""Security headers on every response, pages and API alike.

The Content-Security-Policy admits scripts and styles from this server only: no inline
script, no ``eval`` (Vega draws through its expression interpreter), nothing from a CDN.
Images may also come from the map tile host (``FIELDRECALL_MAP_TILE_URL``). Tokens sit in
page addresses (``/t/<token>``, ``/p/<token>``), so no Referer ever leaves a page.

One page needs more: ReDoc (``/redoc``) styles itself with styled-components, which
writes ``<style>`` elements at run time, and runs its search in a ``blob:`` worker. Only
``/redoc`` gets those two relaxations, never a script one; Swagger UI (``/docs``) runs
under the strict policy. ReDoc's menu also shows Redocly's logo from their server: the
policy blocks it before any request is made, and ReDoc hides the image.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BASE_POLICY: Mapping[str, str] = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "manifest-src": "'self'",
    "worker-src": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "object-src": "'none'",
}
# Extra sources by path: ReDoc's only.
RELAXED: Mapping[str, Mapping[str, str]] = {
    "/redoc": {"style-src": "'unsafe-inline'", "worker-src": "blob:"},
}


def tile_source(tile_url: str) -> str | None:
    """The CSP source of a Leaflet tile URL template: its origin, with ``{s}`` as a
    wildcard subdomain; None for tiles served by this server or no tiles."""
    if not tile_url or tile_url.startswith("/"):
        return None
    parts = urlsplit(tile_url)
    host = parts.netloc.replace("{s}", "*")
    return f"{parts.scheme}://{host}"


def content_security_policy(tile_url: str, extra: Mapping[str, str] | None = None) -> str:
    """The policy as a header value; ``extra`` adds sources to named directives."""
    policy = dict(BASE_POLICY)
    tiles = tile_source(tile_url)
    if tiles:
        policy["img-src"] += f" {tiles}"
    for directive, sources in (extra or {}).items():
        policy[directive] = f"{policy[directive]} {sources}"
    return "; ".join(f"{name} {value}" for name, value in policy.items())


class SecurityHeaders:
    """ASGI middleware that sets the security headers on every HTTP response (a route may
    not override them)."""

    def __init__(self, app: ASGIApp, *, tile_url: str) -> None:
        self.app = app
        self.default = self._headers(content_security_policy(tile_url))
        self.by_path = {
            path: self._headers(content_security_policy(tile_url, extra))
            for path, extra in RELAXED.items()
        }

    @staticmethod
    def _headers(policy: str) -> dict[str, str]:
        return {
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = self.by_path.get(scope["path"], self.default)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in headers.items():
                    out[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
