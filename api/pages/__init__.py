"""The users' web surfaces, server-rendered: the partner's pages and the technician's route
sheets (templates beside their routes)."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, Template, select_autoescape


@cache
def _environment(package: str) -> Environment:
    return Environment(
        loader=PackageLoader(package, "templates"), autoescape=select_autoescape(default=True)
    )


def template(package: str, name: str) -> Template:
    """``package/templates/name``, loaded once."""
    return _environment(package).get_template(name)
