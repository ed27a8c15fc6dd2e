"""What every console page shares: rendering a console template with the session's CSRF
token, answering a form with a redirect (post, then redirect, then get: a reload never
posts twice), keys for forms that must act once, and addresses a form may return to.

The console's templates all live in ``api/pages/console/templates/``; the sections
(``signals/``, ``campaigns/``, ``plans/``, ``failures/``, ``outbox/``) keep their routes
and the code that shapes their pages beside each other.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from fastapi.responses import HTMLResponse, RedirectResponse

from api.pages import page
from api.pages.sessions import PageSession
from api.pages.templating import query_string
from core.errors import InvalidInput

PACKAGE = "api.pages.console"


def console_page(
    name: str, signed_in: PageSession, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A console template, with the CSRF token its forms and htmx requests carry."""
    return page(PACKAGE, name, status_code=status_code, csrf_token=signed_in.csrf_token, **context)


def fragment(name: str, **context: Any) -> HTMLResponse:
    """A piece of a page, for htmx to swap in (no layout around it)."""
    return page(PACKAGE, name, **context)


def see_other(path: str, **query: Any) -> RedirectResponse:
    """303 to a console address (with the non-empty ``query`` parameters)."""
    return RedirectResponse(path + query_string(**query), status_code=303)


def back_to(target: str | None, *, within: str | tuple[str, ...]) -> str:
    """Where a form returns to: ``target`` when it is an address under ``within`` (the
    sections the form may be on), the first of ``within`` otherwise; never another
    site."""
    sections = (within,) if isinstance(within, str) else within
    if target and target.startswith(sections) and "//" not in target and "\\" not in target:
        return target
    return sections[0]


def choice(value: str | None, allowed: Sequence[str], name: str) -> str | None:
    """A filter's value from a form's select: None for "any" (empty), else one of
    ``allowed`` (a 422 page naming them otherwise)."""
    if value is None or not value.strip():
        return None
    if value not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def once_key() -> str:
    """A fresh key for a form that must act once however often it is sent (a double
    click): the declaration's idempotency key, a reminder's request key."""
    return secrets.token_urlsafe(16)
