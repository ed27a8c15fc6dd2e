"""A page's refusals are pages: a route of a ``PageRoute`` router answers a domain error
(``core.errors.AppError``: unknown link, wrong role, a conflict) or a malformed form with
an HTML page that says what happened, with the error's status code, never with the API's
JSON. ``SignInRequired`` sends a browser to the surface's sign-in page instead.

Behind a secret link (``/t/...`` a technician's, ``/p/...`` a partner's) a person follows
an address from a message: an address no route serves, or one used with the wrong method,
is a page too (``link_refusal``, from the app's handler of HTTP errors), not the API's
JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from api.pages.templating import page
from core.errors import AppError, Unauthorized

TITLES = {
    401: "Please sign in",
    403: "Not allowed",
    404: "Nothing here",
    409: "Already changed",
    413: "Too large",
    422: "Please check what you sent",
    500: "Something went wrong",
}


# The secret links' surfaces, where even an address no route serves answers a page.
LINK_PREFIXES = ("/t/", "/p/")
HTTP_MESSAGES = {
    404: "There is nothing at this address. Check the link you were sent, or ask for a new one.",
    405: "This address cannot be used that way. Open the link you were sent instead.",
}


class SignInRequired(Unauthorized):
    """No valid session: a browser asking for a page is sent to ``login_path``."""

    def __init__(self, detail: str, *, login_path: str) -> None:
        super().__init__(detail)
        self.login_path = login_path


def refusal(status_code: int, detail: object) -> Response:
    """The HTML page of a refused request."""
    message = detail if isinstance(detail, str) else "The request could not be served."
    return page(
        "api.pages",
        "refused.html",
        status_code=status_code,
        title=TITLES.get(status_code, "Something went wrong"),
        message=message,
        status=status_code,
    )


def link_refusal(path: str, status_code: int, detail: str | None = None) -> Response | None:
    """The page for a request refused before any route ran (no route, wrong method, an
    unreadable address) at ``path`` when it is behind a secret link; None elsewhere (the
    API answers JSON)."""
    if not any(path.startswith(p) or path == p.rstrip("/") for p in LINK_PREFIXES):
        return None
    message = detail or HTTP_MESSAGES.get(status_code, "The request could not be served.")
    return refusal(status_code, message)


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
                return refusal(exc.status_code, exc.detail)
            except RequestValidationError as exc:
                fields = ", ".join(
                    ".".join(str(p) for p in err.get("loc", ())[1:]) or "the request"
                    for err in exc.errors()
                )
                return refusal(422, f"Missing or invalid: {fields}.")

        return page_handler
