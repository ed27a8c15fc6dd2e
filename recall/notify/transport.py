"""Sending one notice: SMTP for email, a signed HTTP POST for webhooks. No database here.

Every send either returns (the receiver accepted it) or raises DeliveryFailed with a
reason fit for the outbox row's last_error. Both channels carry the notice's idempotency
key, so a receiver can drop the duplicates that at-least-once delivery allows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import httpx

from core.settings import Settings

SIGNATURE_HEADER = "X-Fieldrecall-Signature"
KEY_HEADER = "X-Fieldrecall-Idempotency-Key"
TIMESTAMP_HEADER = "X-Fieldrecall-Timestamp"
MAX_ERROR_CHARS = 500


class DeliveryFailed(Exception):
    """The receiver did not take the notice (refused, unreachable, timed out)."""


@dataclass(frozen=True)
class Notice:
    """What one outbox row sends."""

    message_id: int
    idempotency_key: str
    partner_key: str
    kind: str
    topic: str | None
    subject: str
    body: str
    data: dict[str, Any]
    created_at: datetime
    portal_url: str | None = None  # the partner's portal, where it acts on the notice


def text_with_portal(notice: Notice) -> str:
    """The notice's text, ending with the partner's portal link when it has one."""
    if notice.portal_url is None:
        return notice.body
    return (
        f"{notice.body.rstrip()}\n\n"
        "Your recall portal (confirm a visit, pick another slot, report a failure, follow "
        f"your reports):\n{notice.portal_url}\n"
    )


def sign(secret: str, raw_body: bytes) -> str:
    """The signature header's value: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_body(notice: Notice) -> bytes:
    """The JSON a webhook receives; identical on every attempt (sorted keys, compact)."""
    payload = {
        "message_id": notice.message_id,
        "idempotency_key": notice.idempotency_key,
        "partner_key": notice.partner_key,
        "kind": notice.kind,
        "topic": notice.topic,
        "subject": notice.subject,
        "body": notice.body,
        "data": notice.data,
        "created_at": notice.created_at.isoformat(),
        "portal_url": notice.portal_url,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def post_webhook(notice: Notice, *, url: str, secret: str, timeout_s: float) -> None:
    body = webhook_body(notice)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "fieldrecall-notify",
        SIGNATURE_HEADER: sign(secret, body),
        KEY_HEADER: notice.idempotency_key,
        TIMESTAMP_HEADER: str(int(time.time())),
    }
    try:
        # Redirects are not followed: a signed notice goes only where the partner said.
        response = httpx.post(
            url, content=body, headers=headers, timeout=timeout_s, follow_redirects=False
        )
    except httpx.HTTPError as exc:
        raise DeliveryFailed(_short(f"{type(exc).__name__}: {exc}")) from exc
    if not response.is_success:
        raise DeliveryFailed(_short(f"HTTP {response.status_code}: {response.text}"))


def email_message(notice: Notice, *, to: str, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = notice.subject
    msg["Date"] = format_datetime(notice.created_at)
    # The same notice keeps the same Message-ID on every attempt, so mail clients and
    # receiving systems can drop a duplicate; the raw key rides in its own header.
    domain = sender.rpartition("@")[2] or "fieldrecall.invalid"
    digest = hashlib.sha256(f"{notice.idempotency_key}\0{to}".encode()).hexdigest()[:40]
    msg["Message-ID"] = f"<{digest}@{domain}>"
    msg[KEY_HEADER] = notice.idempotency_key
    msg["X-Fieldrecall-Kind"] = notice.kind
    if notice.topic:
        msg["X-Fieldrecall-Topic"] = notice.topic
    msg.set_content(text_with_portal(notice))
    return msg


def send_email(notice: Notice, *, to: str, settings: Settings) -> None:
    if not settings.smtp_host:
        raise DeliveryFailed("FIELDRECALL_SMTP_HOST is not set: no SMTP server to send through")
    try:
        message = email_message(notice, to=to, sender=settings.smtp_from)
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        raise DeliveryFailed(_short(f"SMTP {type(exc).__name__}: {exc}")) from exc


def _short(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
