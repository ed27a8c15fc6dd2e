"""One error shape for the whole API: ``{"error": "<Name>", "detail": ...}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.pages.errors import link_refusal
from core.errors import AppError

log = logging.getLogger("fieldrecall.api")


class ErrorOut(BaseModel):
    """Every error the API answers with."""

    error: str = Field(description="the error's name: Unauthorized, Forbidden, NotFound, ...")
    detail: Any = Field(
        description="what is wrong: a sentence; for ValidationError a list of {field, reason}; "
        "for ImportRejected {file, kind, message, rows, bad_rows, problems, errors: [{line, "
        "column, column_number, reason}]}"
    )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (401, "no API key, or an unknown or revoked one"),
        (403, "the key's role may not do this"),
        (404, "no such thing, or another partner's"),
        (409, "the change conflicts with the current state"),
        (413, "the request body is over the limit"),
        (422, "bad input, named in detail"),
    )
}


def error_response(name: str, detail: object, status: int) -> JSONResponse:
    """The one error shape: ``{"error": "<Name>", "detail": ...}``."""
    return JSONResponse({"error": name, "detail": jsonable_encoder(detail)}, status_code=status)


# Values PostgreSQL cannot take (a number out of its column's range, a NUL in text):
# every entry checks for them, so one reaching the database is bad input all the same.
BAD_VALUE_SQLSTATES = {"22003": "a number is out of range", "22P05": "a character cannot be stored"}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(_: Request, exc: AppError) -> JSONResponse:
        return error_response(exc.name, exc.detail, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ())),
                "reason": err.get("msg"),
            }
            for err in exc.errors()
        ]
        return error_response("ValidationError", problems, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        page = link_refusal(request.url.path, exc.status_code)
        if page is not None:  # a person following a link gets a page
            return page
        names = {404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}
        return error_response(names.get(exc.status_code, "HTTPError"), exc.detail, exc.status_code)

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> Response:
        reason = BAD_VALUE_SQLSTATES.get(getattr(exc.orig, "sqlstate", None) or "")
        if reason is None:
            log.exception("database error", exc_info=exc)
            return _failed(request)
        log.warning("bad value reached the database: %s", exc.orig)
        detail = f"{reason} in the request"
        page = link_refusal(request.url.path, 422, detail[:1].upper() + detail[1:] + ".")
        return page or error_response("InvalidInput", detail, 422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return _failed(request)


def _failed(request: Request) -> Response:
    """A 500: JSON, or a page for a person behind a secret link."""
    page = link_refusal(
        request.url.path,
        500,
        "Something went wrong on our side; it has been logged. Please try again in a moment.",
    )
    return page or error_response(
        "InternalError", "an unexpected error occurred; it has been logged", 500
    )
