"""Partners' webhooks: register (the secret is chosen by the partner or generated and
shown once; the URL must resolve to public addresses, see targets.py), list, and
remove. Removal deactivates, so past outbox rows keep their reference and pending
deliveries to that URL end as dead letters instead of going out."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound
from core.events import record_event
from core.settings import get_settings
from devices.models import Partner
from recall.models import PartnerWebhook
from recall.notify.outbox import db_now
from recall.notify.targets import TargetRefused, check_target, parse_networks

MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 200
MAX_URL_LENGTH = 2000
MAX_ACTIVE_PER_PARTNER = 10


def create_webhook(
    session: Session, *, partner_key: str, url: str, secret: str | None, actor: str
) -> PartnerWebhook:
    """Register an active webhook; the returned row carries the secret (shown once)."""
    _check_url(url)
    if secret is not None and not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
        raise InvalidInput(
            f"a webhook secret is {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters"
        )
    if session.scalar(select(Partner.id).where(Partner.partner_key == partner_key)) is None:
        raise NotFound(f"no partner {partner_key!r}")
    active = list(
        session.scalars(
            select(PartnerWebhook)
            .where(PartnerWebhook.partner_key == partner_key, PartnerWebhook.active)
            .with_for_update()
        )
    )
    if any(hook.url == url for hook in active):
        raise Conflict(f"partner {partner_key!r} already has an active webhook at {url}")
    if len(active) >= MAX_ACTIVE_PER_PARTNER:
        raise Conflict(f"a partner has at most {MAX_ACTIVE_PER_PARTNER} active webhooks")
    hook = PartnerWebhook(
        partner_key=partner_key,
        url=url,
        secret=secret if secret is not None else secrets.token_urlsafe(32),
        created_by=actor,
    )
    session.add(hook)
    session.flush()
    record_event(
        session,
        actor=actor,
        entity="partner_webhook",
        entity_key=str(hook.id),
        action="create",
        to_state="active",
        data={"partner_key": partner_key, "url": url},
    )
    return hook


def list_webhooks(session: Session, *, partner_key: str | None) -> list[PartnerWebhook]:
    query = select(PartnerWebhook).order_by(PartnerWebhook.id)
    if partner_key is not None:
        query = query.where(PartnerWebhook.partner_key == partner_key)
    return list(session.scalars(query))


def get_webhook(session: Session, webhook_id: int, *, partner_key: str | None) -> PartnerWebhook:
    """The webhook, if the caller may see it (``partner_key`` None: any partner's)."""
    hook = session.get(PartnerWebhook, webhook_id)
    if hook is None or (partner_key is not None and hook.partner_key != partner_key):
        raise NotFound(f"no webhook {webhook_id}")
    return hook


def remove_webhook(
    session: Session, webhook_id: int, *, partner_key: str | None, actor: str
) -> PartnerWebhook:
    hook = get_webhook(session, webhook_id, partner_key=partner_key)
    if hook.active:
        hook.deactivated_at = db_now(session)
        hook.active = False
        session.flush()
        record_event(
            session,
            actor=actor,
            entity="partner_webhook",
            entity_key=str(hook.id),
            action="remove",
            from_state="active",
            to_state="removed",
        )
    return hook


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"a webhook URL is an absolute http(s) URL, not {url!r}")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"a webhook URL is at most {MAX_URL_LENGTH} characters")
    if parts.username or parts.password:
        raise InvalidInput("a webhook URL carries no credentials; the signature authenticates")
    try:
        check_target(url, allow=parse_networks(get_settings().webhook_allow_networks))
    except TargetRefused as exc:
        raise InvalidInput(str(exc)) from exc
