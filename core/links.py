"""Secret links, for people who cannot send an API key: a partner's calendar feed and
status page, a technician's route sheets (opened on a phone, printed, imported into a
calendar or a navigator).

A link's token is ``lnk_<id>_<mac>``, the MAC an HMAC-SHA256 of the link's random nonce
under the server's secret (``FIELDRECALL_SECRET_KEY``; unset, a secret made once and
stored in the database). So the database alone opens no link when the secret is set, and
the same link can be sent again (a partner keeps one stable link; a lead re-sends it
without cancelling it). A link expires (``FIELDRECALL_LINK_LIFETIME_DAYS``, or the days
asked for) and is revoked one by one; an owner may hold several. Changing the secret
closes every link made under the old one.

Links made before this scheme carry a random token of which only a hash is stored; they
keep working until they expire, but cannot be sent again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base
from core.errors import NotFound
from core.security import hash_key
from core.settings import get_settings

TOKEN = re.compile(r"lnk_(\d{1,10})_([A-Za-z0-9_-]{43})")
GONE = "nothing at this address (the link may have expired or been revoked)"


class SecretLink(Base):
    __tablename__ = "secret_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), index=True)
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("technician.id"), index=True)
    # A link's token derives from its nonce; links of the old scheme kept only a hash.
    nonce: Mapped[str | None] = mapped_column(String(64))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("(partner_id IS NULL) <> (technician_id IS NULL)", name="one_owner"),
        CheckConstraint("(nonce IS NULL) <> (token_hash IS NULL)", name="token_source"),
    )


class AppSecret(Base):
    """Secrets the deployment keeps in its database when none is configured."""

    __tablename__ = "app_secret"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), nullable=False)


@dataclass(frozen=True)
class IssuedLink:
    """A link with its token, to put in a URL (never stored)."""

    link: SecretLink
    token: str


def _secret(session: Session) -> bytes:
    configured = get_settings().secret_key
    if configured:
        return configured.encode()
    stored = session.scalar(select(AppSecret.value).where(AppSecret.name == "links"))
    if stored is None:
        # Made once per database (the first of concurrent makers wins).
        session.execute(
            pg_insert(AppSecret)
            .values(name="links", value=secrets.token_hex(32))
            .on_conflict_do_nothing()
        )
        stored = session.scalars(select(AppSecret.value).where(AppSecret.name == "links")).one()
    return stored.encode()


def _mac(secret: bytes, link_id: int, nonce: str) -> str:
    digest = hmac.new(secret, f"link:{link_id}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_of(session: Session, link: SecretLink) -> str:
    """The link's token again (to send the same link once more)."""
    if link.nonce is None:
        raise NotFound(f"link {link.id} predates re-sendable links; make a new one")
    return f"lnk_{link.id}_{_mac(_secret(session), link.id, link.nonce)}"


def new_link(
    session: Session,
    *,
    partner_id: int | None = None,
    technician_id: int | None = None,
    actor: str = "system",
    days: int | None = None,
    label: str | None = None,
) -> IssuedLink:
    """A new link for a partner or a technician; the owner's other links stay valid."""
    if (partner_id is None) == (technician_id is None):
        raise ValueError("a link belongs to a partner or to a technician")
    lifetime = timedelta(days=days or get_settings().link_lifetime_days)
    now = session.scalar(select(func.now()))
    assert now is not None
    link = SecretLink(
        partner_id=partner_id,
        technician_id=technician_id,
        nonce=secrets.token_urlsafe(24),
        label=label,
        created_by=actor,
        expires_at=now + lifetime,
    )
    session.add(link)
    session.flush()
    return IssuedLink(link, token_of(session, link))


def active_links(
    session: Session, *, partner_id: int | None = None, technician_id: int | None = None
) -> list[SecretLink]:
    """The owner's links that open now (both None: every owner's), newest expiry first."""
    stmt = select(SecretLink).where(
        SecretLink.revoked_at.is_(None), SecretLink.expires_at > func.now()
    )
    if partner_id is not None:
        stmt = stmt.where(SecretLink.partner_id == partner_id)
    if technician_id is not None:
        stmt = stmt.where(SecretLink.technician_id == technician_id)
    return list(session.scalars(stmt.order_by(SecretLink.expires_at.desc(), SecretLink.id)))


def stable_link(
    session: Session,
    *,
    partner_id: int | None = None,
    technician_id: int | None = None,
    actor: str = "system",
) -> IssuedLink:
    """The owner's stable link: its longest-lived re-sendable link, made when it has none.
    Notices, the demo and a lead re-sending it get the same address every time."""
    owned = active_links(session, partner_id=partner_id, technician_id=technician_id)
    for link in owned:
        if link.nonce is not None:
            return IssuedLink(link, token_of(session, link))
    return new_link(session, partner_id=partner_id, technician_id=technician_id, actor=actor)


def revoke_link(
    session: Session,
    link_id: int,
    *,
    partner_id: int | None = None,
    technician_id: int | None = None,
) -> SecretLink:
    """Revoke one link (a partner or technician may only name its own; 404 otherwise)."""
    link = session.get(SecretLink, link_id, with_for_update=True)
    if (
        link is None
        or (partner_id is not None and link.partner_id != partner_id)
        or (technician_id is not None and link.technician_id != technician_id)
    ):
        raise NotFound(f"no link {link_id}")
    if link.revoked_at is None:
        link.revoked_at = session.scalar(select(func.now()))
        session.flush()
    return link


def link_for_token(session: Session, token: str) -> SecretLink:
    """The link a token opens; 404 for an unknown, revoked or expired token."""
    match = TOKEN.fullmatch(token)
    if match:
        link = session.get(SecretLink, int(match.group(1)))
        if link is None or link.nonce is None:
            raise NotFound(GONE)
        expected = _mac(_secret(session), link.id, link.nonce)
        if not hmac.compare_digest(expected, match.group(2)):
            raise NotFound(GONE)
    else:
        link = session.scalar(select(SecretLink).where(SecretLink.token_hash == hash_key(token)))
        if link is None:
            raise NotFound(GONE)
    now = session.scalar(select(func.now()))
    assert now is not None
    if link.revoked_at is not None or link.expires_at <= now:
        raise NotFound(GONE)
    return link


def link_urls(token: str, *, partner: bool, base: str) -> dict[str, str]:
    """The link's addresses under ``base`` (the server's own address)."""
    if partner:
        return {"calendar": f"{base}/feeds/{token}.ics", "status": f"{base}/p/{token}"}
    return {"sheets": f"{base}/t/{token}"}


def public_base(request_base: str) -> str:
    """The base URL links are given under: ``FIELDRECALL_PUBLIC_BASE_URL`` when set (behind
    a proxy), else the address the request reached, port included."""
    configured = get_settings().public_base_url
    return (configured or request_base).rstrip("/")
