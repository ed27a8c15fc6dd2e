"""Sending one notice: SMTP for email, a signed HTTP POST for webhooks. No database here.

Every send either returns (the receiver accepted it) or raises DeliveryFailed with a
reason fit for the outbox row's last_error, which the partner reads: a reason from a
fixed vocabulary (status code, timeout, refused connection), never what a receiver
sent back. Both channels carry the notice's idempotency
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
from recall.notify.targets import (
    IPNetwork,
    Resolver,
    Target,
    TargetRefused,
    check_target,
)

SIGNATURE_HEADER = "X-Fieldrecall-Signature"
KEY_HEADER = "X-Fieldrecall-Idempotency-Key"
TIMESTAMP_HEADER = "X-Fieldrecall-Timestamp"
CONNECT_TIMEOUT_S = 3.0


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
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def post_webhook(
    notice: Notice,
    *,
    url: str,
    secret: str,
    timeout_s: float,
    allow: tuple[IPNetwork, ...] = (),
    resolve: Resolver | None = None,
) -> None:
    """POST the signed notice to the address ``url`` resolves to now, after checking it
    again (targets.check_target): a name that pointed outside at registration may point
    inside today. Only the status counts; the receiver's body is never read, so nothing a
    receiver says can reach the outbox row a partner reads."""
    try:
        target = check_target(url, allow=allow, resolve=resolve)
    except TargetRefused as exc:
        raise DeliveryFailed(f"refused target: {exc}") from exc
    body = webhook_body(notice)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "fieldrecall-notify",
        "Host": _host_header(target),
        SIGNATURE_HEADER: sign(secret, body),
        KEY_HEADER: notice.idempotency_key,
        TIMESTAMP_HEADER: str(int(time.time())),
    }
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S))
    try:
        # Redirects are not followed: a signed notice goes only where the partner said.
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream(
                "POST",
                target.connect_url(url),
                content=body,
                headers=headers,
                # TLS checks the certificate against the partner's host name, not the IP.
                extensions={"sni_hostname": target.host},
            ) as response,
        ):
            status = response.status_code
    except httpx.TimeoutException as exc:
        raise DeliveryFailed("the receiver did not answer in time") from exc
    except httpx.ConnectError as exc:
        raise DeliveryFailed("could not connect to the receiver") from exc
    except httpx.HTTPError as exc:
        raise DeliveryFailed(
            f"the exchange with the receiver failed ({type(exc).__name__})"
        ) from exc
    if not 200 <= status < 300:
        raise DeliveryFailed(f"the receiver answered HTTP {status}")


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


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
    msg.set_content(notice.body)
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
    except smtplib.SMTPResponseException as exc:
        raise DeliveryFailed(f"the mail server refused the message (SMTP {exc.smtp_code})") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({code for code, _ in exc.recipients.values()})
        raise DeliveryFailed(f"the mail server refused the recipient (SMTP {codes})") from exc
    except TimeoutError as exc:
        raise DeliveryFailed("the mail server did not answer in time") from exc
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        raise DeliveryFailed(
            f"could not send through the mail server ({type(exc).__name__})"
        ) from exc
