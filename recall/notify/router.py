"""HTTP routes of notifications: the outbox (support leads see all, retry dead letters;
partners see their own messages) and partners' webhooks. Technicians have no part here."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from core.deps import get_session, require_roles
from core.errors import InvalidInput, NotFound
from core.inputs import IdPath
from core.pagination import Page
from core.security import Principal
from devices.filters import filter_ids
from recall.models import NOTICE_KINDS
from recall.notify import outbox, webhooks
from recall.notify.outbox import MessageFilter
from recall.notify.schemas import OutboxMessageOut, WebhookCreatedOut, WebhookIn, WebhookOut

router = APIRouter(prefix="/api/v1", tags=["notifications"])
lead = require_roles("support_lead")
lead_or_partner = require_roles("support_lead", "partner")


def _scope(session: Session, principal: Principal) -> str | None:
    """The partner key a partner's key is confined to; None for a support lead."""
    return outbox.partner_key_scope(session, principal.partner_scope)


@router.get("/outbox", response_model=Page[OutboxMessageOut])
def list_outbox(
    status: Literal["pending", "delivered", "dead"] | None = Query(
        None, description="dead = the dead letters"
    ),
    partner: str | None = Query(None, description="partner_key"),
    topic: str | None = Query(None, description='e.g. "campaign:12"'),
    channel: Literal["email", "webhook", "none"] | None = Query(None),
    kind: Literal[NOTICE_KINDS] | None = Query(None),  # type: ignore[valid-type]
    idempotency_key: str | None = Query(None),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    principal: Principal = Depends(lead_or_partner),
    session: Session = Depends(get_session),
) -> Page[OutboxMessageOut]:
    filter_ids(session, partner_scope=principal.partner_scope, partner=partner)
    filters = MessageFilter(
        status=status,
        partner_key=partner,
        topic=topic,
        channel=channel,
        kind=kind,
        idempotency_key=idempotency_key,
    )
    rows, total = outbox.list_messages(
        session, scope=_scope(session, principal), filters=filters, limit=limit, offset=offset
    )
    items = [OutboxMessageOut.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/outbox/{message_id}", response_model=OutboxMessageOut)
def get_outbox_message(
    message_id: IdPath,
    principal: Principal = Depends(lead_or_partner),
    session: Session = Depends(get_session),
) -> OutboxMessageOut:
    message = outbox.get_message(session, message_id, scope=_scope(session, principal))
    return OutboxMessageOut.model_validate(message)


@router.post("/outbox/{message_id}/retry", response_model=list[OutboxMessageOut])
def retry_outbox_message(
    message_id: IdPath,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> list[OutboxMessageOut]:
    """Give a dead letter a new round of attempts (a 'none' row: the partner's current
    channels); returns the rows now pending."""
    retried = outbox.retry_message(session, message_id=message_id, actor=principal.actor)
    return [OutboxMessageOut.model_validate(m) for m in retried]


@router.get("/webhooks", response_model=list[WebhookOut])
def list_webhooks(
    partner: str | None = Query(None, description="partner_key (support leads)"),
    principal: Principal = Depends(lead_or_partner),
    session: Session = Depends(get_session),
) -> list[WebhookOut]:
    filter_ids(session, partner_scope=principal.partner_scope, partner=partner)
    scope = _scope(session, principal)
    hooks = webhooks.list_webhooks(session, partner_key=scope or partner)
    return [WebhookOut.model_validate(h) for h in hooks]


@router.post("/webhooks", response_model=WebhookCreatedOut, status_code=201)
def create_webhook(
    body: WebhookIn,
    principal: Principal = Depends(lead_or_partner),
    session: Session = Depends(get_session),
) -> WebhookCreatedOut:
    """Register a webhook; the response shows its secret, which is never shown again."""
    scope = _scope(session, principal)
    if scope is None and body.partner_key is None:
        raise InvalidInput("partner_key is required: whose webhook is it?")
    if scope is not None and body.partner_key not in (None, scope):
        raise NotFound(f"no partner {body.partner_key!r}")
    hook = webhooks.create_webhook(
        session,
        partner_key=scope or str(body.partner_key),
        url=body.url,
        secret=body.secret,
        actor=principal.actor,
    )
    return WebhookCreatedOut.model_validate(hook)


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
def get_webhook(
    webhook_id: IdPath,
    principal: Principal = Depends(lead_or_partner),
    session: Session = Depends(get_session),
) -> WebhookOut:
    hook = webhooks.get_webhook(session, webhook_id, partner_key=_scope(session, principal))
    return WebhookOut.model_validate(hook)


@router.delete("/webhooks/{webhook_id}", response_model=WebhookOut)
def remove_webhook(
    webhook_id: IdPath,
    principal: Principal = Depends(lead_or_partner),
    session: Session = Depends(get_session),
) -> WebhookOut:
    """Deactivate a webhook: no new notices go to it, pending ones become dead letters."""
    hook = webhooks.remove_webhook(
        session, webhook_id, partner_key=_scope(session, principal), actor=principal.actor
    )
    return WebhookOut.model_validate(hook)
