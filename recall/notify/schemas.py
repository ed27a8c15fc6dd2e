"""Pydantic shapes of the notifications API (outbox and webhooks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.inputs import Line


class OutboxMessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    idempotency_key: str
    partner_key: str
    channel: str
    destination: str
    topic: str | None
    kind: str
    subject: str
    body: str
    data: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Line = Field(..., max_length=2000, description="absolute http(s) URL")
    secret: Line | None = Field(
        None, description="HMAC key, 16-200 characters; omitted: one is generated and shown once"
    )
    partner_key: Line | None = Field(
        None, max_length=100, description="support leads only: the partner to register it for"
    )


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    partner_key: str
    url: str
    active: bool
    created_by: str
    created_at: datetime
    deactivated_at: datetime | None


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(..., description="shown only in this response")
