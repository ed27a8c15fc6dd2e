"""The one Jinja2 setup of every page: autoescaped, strict about undefined names, and
aware of the shared templates in ``api/pages/templates/`` (the base layout, the refusal
page and the chart and map widgets), which each surface's templates extend or import.

A surface keeps its templates beside its routes, in ``api/pages/<surface>/templates/``,
and renders them with ``page("api.pages.<surface>", "name.html", ...)`` (a response) or
``template(...)`` (the template itself). Every template can call ``static(path)`` (the
cache-busting address of a file under ``api/static/``), ``map_tiles()`` (the tile
URL and attribution from the settings) and ``query(**params)`` (``?a=1&b=2`` of the
non-empty parameters, for links that keep a page's filters); the filter ``when`` writes
a moment as ``2026-12-03 10:40 UTC`` (or in the zone it is given), ``clock`` as ``10:40``
in the zone it is given.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi.responses import HTMLResponse
from jinja2 import (
    ChoiceLoader,
    Environment,
    PackageLoader,
    StrictUndefined,
    Template,
    select_autoescape,
)

from api.pages.assets import static_url
from core.settings import get_settings

SHARED = "api.pages"


def map_tiles() -> dict[str, str]:
    """The tile layer every map draws (an empty url: no tiles, markers and lines only)."""
    settings = get_settings()
    return {"url": settings.map_tile_url, "attribution": settings.map_tile_attribution}


def query_string(**params: Any) -> str:
    """``?a=1&b=2`` of the parameters that are not None or empty; "" when none is left."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"?{urlencode(kept)}" if kept else ""


def when(moment: datetime | None, zone: str = "UTC") -> str:
    """A moment as people read it: ``2026-12-03 10:40 UTC`` (minutes, with its zone)."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M ") + zone


def clock(moment: datetime | None, zone: str) -> str:
    """The time of day of a moment in ``zone``: ``10:40``."""
    return "" if moment is None else moment.astimezone(ZoneInfo(zone)).strftime("%H:%M")


@cache
def environment(package: str) -> Environment:
    """The environment of one surface: its own templates first, then the shared ones."""
    loaders = [PackageLoader(package, "templates")]
    if package != SHARED:
        loaders.append(PackageLoader(SHARED, "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(static=static_url, map_tiles=map_tiles, query=query_string)
    env.filters.update(when=when, clock=clock)
    return env


def template(package: str, name: str) -> Template:
    """``package/templates/name`` (or a shared template of that name), loaded once."""
    return environment(package).get_template(name)


def page(
    package: str,
    name: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A rendered template as an HTML response."""
    return HTMLResponse(
        template(package, name).render(**context), status_code=status_code, headers=headers
    )
