"""The one Jinja2 setup of every page: autoescaped, strict about undefined names, and
aware of the shared templates in ``api/pages/templates/`` (the base layout, the refusal
page and the chart and map widgets), which each surface's templates extend or import.

A surface keeps its templates beside its routes, in ``api/pages/<surface>/templates/``,
and renders them with ``page("api.pages.<surface>", "name.html", ...)`` (a response) or
``template(...)`` (the template itself). Every template can call ``static(path)`` (the
cache-busting address of a file under ``api/static/``) and ``map_tiles()`` (the tile
URL and attribution from the settings).
"""

from __future__ import annotations

from functools import cache
from typing import Any

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
    env.globals.update(static=static_url, map_tiles=map_tiles)
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
