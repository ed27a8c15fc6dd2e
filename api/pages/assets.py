"""The static files under ``api/static/`` (vendored libraries and the pages' own CSS and
JS), served at ``/static/`` with cache busting.

``static_url("fieldrecall/pages.js")`` gives ``/static/fieldrecall/pages.js?v=<hash>``, the
hash being the first 12 hex digits of the file's sha256: a changed file gets a new address,
so a browser may keep every versioned address for a year. Unversioned addresses are
revalidated on every use.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
STATIC_PREFIX = "/static"
VERSIONED = "public, max-age=31536000, immutable"
UNVERSIONED = "no-cache"


@cache
def _version(path: str) -> str:
    file = (STATIC_DIR / path).resolve()
    if not file.is_relative_to(STATIC_DIR) or not file.is_file():
        raise FileNotFoundError(f"no static file {path!r} under {STATIC_DIR}")
    return hashlib.sha256(file.read_bytes()).hexdigest()[:12]


def _version_or_none(path: str) -> str | None:
    try:
        return _version(path)
    except FileNotFoundError:
        return None


def static_url(path: str) -> str:
    """The cache-busting address of ``api/static/<path>`` (an unknown file is an error
    when the template renders, not a broken page)."""
    return f"{STATIC_PREFIX}/{path}?v={_version(path)}"


class StaticAssets(StaticFiles):
    """StaticFiles with long caching for versioned addresses."""

    def __init__(self) -> None:
        super().__init__(directory=STATIC_DIR)

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v")
            current = asked is not None and asked[0] == _version_or_none(path)
            response.headers["Cache-Control"] = VERSIONED if current else UNVERSIONED
        return response
