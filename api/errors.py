"""One error shape for the whole API: ``{"error": "<Name>", "detail": ...}``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.pages.errors import for_a_person, plain_refusal
from core.errors import AppError

log = logging.getLogger("fieldrecall.api")


def _body(name: str, detail: object, status: int) -> JSONResponse:
    return JSONResponse({"error": name, "detail": jsonable_encoder(detail)}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.middleware("http")
    async def refuse_nul_in_url(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # PostgreSQL text cannot hold NUL: a key like "a%00b" would fail in the database
        # (a 500) instead of being refused as the bad input it is.
        if "\x00" in request.scope["path"] or b"%00" in request.scope["query_string"]:
            return _body("InvalidInput", "the URL contains a NUL character (%00)", 422)
        return await call_next(request)

    @app.exception_handler(AppError)
    async def app_error(_: Request, exc: AppError) -> JSONResponse:
        return _body(exc.name, exc.detail, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ())),
                "reason": err.get("msg"),
            }
            for err in exc.errors()
        ]
        return _body("ValidationError", problems, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if for_a_person(request.url.path):
            return plain_refusal(exc.status_code)
        names = {404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}
        return _body(names.get(exc.status_code, "HTTPError"), exc.detail, exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        if for_a_person(request.url.path):
            return plain_refusal(500)
        return _body("InternalError", "an unexpected error occurred; it has been logged", 500)
