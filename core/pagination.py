"""Pagination shared by every list route: the page a request asks for (``limit`` up to
1,000, ``offset``), running it against a query, and the ``{items, total, limit, offset}``
shape the API returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
MAX_PAGE_SIZE = 1000
# Bounded so that a huge number is a 422, not an overflow in the database.
MAX_OFFSET = 10**12


@dataclass(frozen=True)
class PageRequest:
    limit: int
    offset: int


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def page_request(
    limit: int = Query(100, ge=1, le=MAX_PAGE_SIZE, description="page size"),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> PageRequest:
    """The page a request asks for (a FastAPI dependency)."""
    return PageRequest(limit=limit, offset=offset)


TOTAL = "_total"


def paginate(session: Session, stmt: Select, page: PageRequest) -> tuple[list[Any], int]:
    """One page of ``stmt``'s rows and the total count of rows it matches.

    The count rides along with the page (a window count) in one round trip; only an empty
    page, past the end, asks for it separately. The rows come back exactly as ``stmt``
    shapes them (the count column is taken off again), so callers may read them by
    position, by name or by entity."""
    counted = stmt.add_columns(func.count().over().label(TOTAL))
    frozen = session.execute(counted.limit(page.limit).offset(page.offset)).freeze()
    rows = frozen().all()
    if rows:
        width = len(rows[0]) - 1
        return list(frozen().columns(*range(width)).all()), int(rows[0]._mapping[TOTAL])
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    return [], int(total)
