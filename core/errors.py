"""Domain errors. Services raise these; the API renders them as
``{"error": "<Name>", "detail": ...}`` with the class's HTTP status, and the CLI prints them."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status_code = 400

    def __init__(self, detail: Any) -> None:
        super().__init__(detail if isinstance(detail, str) else repr(detail))
        self.detail = detail

    @property
    def name(self) -> str:
        return type(self).__name__


class InvalidInput(AppError):
    status_code = 422


class ImportRejected(AppError):
    """A CSV file with at least one bad row: nothing was imported; detail lists every bad row."""

    status_code = 422


class NotFound(AppError):
    status_code = 404


class Unauthorized(AppError):
    status_code = 401


class Forbidden(AppError):
    status_code = 403


class Conflict(AppError):
    status_code = 409


class PayloadTooLarge(AppError):
    status_code = 413
