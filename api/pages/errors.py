"""A page's refusals are pages: a route of a ``PageRoute`` router answers a domain error
(``core.errors.AppError``: unknown link, wrong role, a conflict) or a malformed form with
an HTML page that says what happened, with the error's status code, never with the API's
JSON. ``SignInRequired`` sends a browser to the surface's sign-in page instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from api.pages.templating import page
from core.errors import AppError, NotFound, Unauthorized

TITLES = {
    401: "Please sign in",
    403: "Not allowed",
    404: "Nothing here",
    405: "Not possible here",
    409: "Already changed",
    413: "Too large",
    422: "Please check what you sent",
    500: "Something went wrong",
}


# Addresses whose every answer is read by a person, even one no route serves (a mistyped
# path, a wrong method, a failure of ours): behind a secret link (``/t/...`` a
# technician's, ``/p/...`` a partner's) and the portal signed in with a key.
PERSON_PREFIXES = ("/t/", "/p/", "/portal/")
PLAIN_WORDS = {
    404: "Nothing at this address. Check the link you were sent, or ask for a new one.",
    405: "This address cannot be used that way. Open the link you were sent instead.",
    413: "That was too large to send.",
    422: "Something in what you sent could not be read; please check it and try again.",
    500: "Something went wrong on our side; it has been logged. Please try again in a moment.",
}


# The portal's first page, for an address under it: behind a link or signed in.
PORTAL_HOME = re.compile(r"^(/p/[^/]+|/portal)/")


class LinkGone(NotFound):
    """A link that opens nothing (unknown, revoked, expired): its refusal page offers no
    way back into it."""


def for_a_person(path: str) -> bool:
    """Whether an answer at ``path`` is a page even when no page route made it."""
    return path.startswith(PERSON_PREFIXES) or path in ("/t", "/p", "/portal")


def way_back(path: str) -> str | None:
    """Where a refusal page at ``path`` leads back to: the portal's first page."""
    found = PORTAL_HOME.match(path)
    return found[1] + "/" if found else None


def link_refusal(path: str, status_code: int, detail: str | None = None) -> Response | None:
    """The page for a request at ``path`` that no page route answered (no route, a wrong
    method, an unreadable address, a failure of ours): ``detail``, else the status in
    plain words. None where the API answers JSON."""
    if not for_a_person(path):
        return None
    words = detail or PLAIN_WORDS.get(status_code, "The request could not be served.")
    return refusal(status_code, words, back=way_back(path))


class SignInRequired(Unauthorized):
    """No valid session: a browser asking for a page is sent to ``login_path``."""

    def __init__(self, detail: str, *, login_path: str) -> None:
        super().__init__(detail)
        self.login_path = login_path


def refusal(status_code: int, detail: object, *, back: str | None = None) -> Response:
    """The HTML page of a refused request; ``back``: a page to return to."""
    message = detail if isinstance(detail, str) else "The request could not be served."
    return page(
        "api.pages",
        "refused.html",
        status_code=status_code,
        title=TITLES.get(status_code, "Something went wrong"),
        message=message,
        status=status_code,
        back=back,
    )


def sign_in_redirect(request: Request, exc: SignInRequired) -> Response:
    """A page load goes to the sign-in page (which brings it back afterwards); an htmx
    request is told to do the same; any other request gets a 401 page."""
    target = request.url.path
    if request.url.query:
        target += f"?{request.url.query}"
    login = f"{exc.login_path}?next={quote(target, safe='')}"
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": login})
    if request.method in ("GET", "HEAD"):
        return RedirectResponse(login, status_code=303)
    return refusal(401, str(exc.detail))


class PageRoute(APIRoute):
    """The route class of every page router (``APIRouter(route_class=PageRoute)``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as exc:
                return sign_in_redirect(request, exc)
            except AppError as exc:
                back = None if isinstance(exc, LinkGone) else way_back(request.url.path)
                return refusal(exc.status_code, exc.detail, back=back)
            except RequestValidationError as exc:
                fields = ", ".join(
                    ".".join(str(p) for p in err.get("loc", ())[1:]) or "the request"
                    for err in exc.errors()
                )
                return refusal(
                    422, f"Missing or invalid: {fields}.", back=way_back(request.url.path)
                )

        return page_handler
