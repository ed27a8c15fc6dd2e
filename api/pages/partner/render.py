"""How the portal's pages are rendered: one helper that hands every template the portal
(the partner, its base address, the CSRF token of a session) and the words for dates and
times, always in the site's own time zone."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.responses import HTMLResponse

from api.pages.partner.access import Portal
from api.pages.templating import page

PACKAGE = "api.pages.partner"


def local_time(moment: datetime, zone: str) -> str:
    """'10:00' in ``zone``."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%H:%M")


def local_stamp(moment: datetime, zone: str) -> str:
    """'Tue 1 Dec, 10:05' in ``zone``."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"


def day_words(day: date) -> str:
    """'Tuesday 1 December'."""
    return f"{day:%A} {day.day} {day:%B}"


def portal_page(
    portal: Portal, name: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A portal template as a response, with what every portal page uses."""
    if portal.csrf_token:  # base.html puts it where htmx finds it
        context["csrf_token"] = portal.csrf_token
    return page(
        PACKAGE,
        name,
        status_code=status_code,
        portal=portal,
        local_time=local_time,
        local_stamp=local_stamp,
        day_words=day_words,
        **context,
    )
