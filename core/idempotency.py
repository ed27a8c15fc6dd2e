"""Idempotency keys: a request sent again with the same key gets the first answer, whatever
happened to the first reply on the way back, and the change happens once.

One mechanism for every use case that accepts a key (a recall's declaration, failure
reports, a technician's work at a visit; later a partner's action). ``idempotent`` stores
a fixed status code with the answer; ``idempotent_answer`` the one the use case returns
(a technician's work is a 200, or a 409 when it is kept as a conflict). The first request with a key
inserts a row in its own transaction *before* it does its work, and stores its answer in
the same transaction: a request with the same key that arrives meanwhile waits on that
row's unique key until the first commits (then it replays the stored answer) or rolls
back (then it does the work itself). So twenty concurrent requests with one key give
twenty identical answers and one change, never a unique-key error. A key reused for a
different request (another body, another operation) is a 422: answering with the first
request's result would report something that was never asked for.

Keys are scoped by tenant (``Principal.tenant``): support leads share one namespace, each
partner and each technician has its own, so nobody can read another's answers by
guessing keys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Header
from fastapi.encoders import jsonable_encoder
from sqlalchemy import DateTime, Integer, String, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base
from core.errors import InvalidInput
from core.inputs import LINE_PATTERN

MAX_KEY_LENGTH = 200


class IdempotentRequest(Base):
    __tablename__ = "idempotent_request"

    tenant: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    # SHA-256 of the operation and its canonical JSON body.
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    response: Mapped[Any] = mapped_column(JSONB, nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


def idempotency_key_header(
    idempotency_key: str | None = Header(
        None,
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=LINE_PATTERN,
        description="makes a retry safe: the same key again replays the first answer",
    ),
) -> str | None:
    """The optional ``Idempotency-Key`` header (a FastAPI dependency)."""
    return idempotency_key


def fingerprint(operation: str, payload: Any) -> str:
    canonical = json.dumps(
        {"operation": operation, "payload": jsonable_encoder(payload)},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent(
    session: Session,
    *,
    tenant: str,
    key: str | None,
    operation: str,
    payload: Any,
    status_code: int,
    run: Callable[[], Any],
) -> tuple[int, Any]:
    """``run()`` once per (tenant, key), in the caller's transaction; returns the answer's
    status code and JSON body, the stored one when the key was used before. Without a
    key, just runs. The same key with another operation or payload is a 422."""
    return idempotent_answer(
        session,
        tenant=tenant,
        key=key,
        operation=operation,
        payload=payload,
        run=lambda: (status_code, run()),
    )


def idempotent_answer(
    session: Session,
    *,
    tenant: str,
    key: str | None,
    operation: str,
    payload: Any,
    run: Callable[[], tuple[int, Any]],
) -> tuple[int, Any]:
    """``idempotent`` for a use case whose status code depends on what happened: ``run()``
    returns the status code with the body (a technician's work answers 200, or a 409 when
    it is kept as a conflict; a replay gives the same 409 and keeps nothing twice)."""
    if key is None:
        status_code, body = run()
        return status_code, jsonable_encoder(body)
    digest = fingerprint(operation, payload)
    claimed = session.execute(
        insert(IdempotentRequest)
        # The status code is set with the answer, in this same transaction.
        .values(tenant=tenant, key=key, fingerprint=digest, status_code=0)
        # Waits for a concurrent first request with this key to end, then does nothing.
        .on_conflict_do_nothing(index_elements=["tenant", "key"])
        .returning(IdempotentRequest.key)
    ).first()
    if claimed is None:
        stored = session.execute(
            select(
                IdempotentRequest.fingerprint,
                IdempotentRequest.status_code,
                IdempotentRequest.response,
            ).where(IdempotentRequest.tenant == tenant, IdempotentRequest.key == key)
        ).one()
        if stored.fingerprint != digest:
            raise InvalidInput(
                f"the Idempotency-Key {key!r} was already used for a different request; "
                "use a new key for a new request"
            )
        return stored.status_code, stored.response
    status_code, body = run()
    # The answer as stored (JSONB orders keys its own way), so that a replay is the
    # same text as the first answer.
    stored_body = session.scalar(
        update(IdempotentRequest)
        .where(IdempotentRequest.tenant == tenant, IdempotentRequest.key == key)
        .values(status_code=status_code, response=jsonable_encoder(body))
        .returning(IdempotentRequest.response)
    )
    return status_code, stored_body
