"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) served from ``api/static/vendor/``,
``/`` sending a browser to the console, and ``/favicon.ico``.

FastAPI's own ``get_swagger_ui_html``/``get_redoc_html`` write an inline ``<script>`` (and
link a web font), which the Content-Security-Policy forbids; these pages load the vendored
bundles and start them from ``static/fieldrecall/docs.js``, which reads the OpenAPI
address from the page. Swagger UI's validator badge (an image from an outside server) is
off.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.pages import page
from api.pages.assets import static_url
from api.pages.errors import PageRoute

PACKAGE = "api.pages.docs"
router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _docs(request: Request, ui: str) -> HTMLResponse:
    openapi_url = str(request.app.openapi_url or "/openapi.json")
    return page(PACKAGE, "docs.html", title=request.app.title, openapi_url=openapi_url, ui=ui)


@router.get("/", response_class=RedirectResponse)
def home() -> RedirectResponse:
    """The root is the support lead's console."""
    return RedirectResponse("/console/", status_code=307)


@router.get("/favicon.ico", response_class=RedirectResponse)
def favicon() -> RedirectResponse:
    """Browsers ask for it on pages that name no icon."""
    return RedirectResponse(static_url("fieldrecall/icon.svg"), status_code=302)


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    return _docs(request, "swagger-ui")


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    return _docs(request, "redoc")
