"""Secret links, for people who cannot send an API key: a partner's calendar feed and
portal, a technician's route sheets (opened on a phone, printed, imported into a
calendar or a navigator).

A link carries a random token, looked up by its hash. A technician has one link: asking
for a new one replaces the old. A partner may have several, each revoked on its own;
its newest live link is the one every notice carries, so a partner link's token is kept
too (a notice is composed when it is delivered, long after the link was made, and the
lead re-sends the same link without cancelling it).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base
from core.errors import NotFound
from core.security import hash_key
from core.settings import get_settings


class SecretLink(Base):
    __tablename__ = "secret_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("technician.id"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    # A partner link's token, for the notices that carry it (NULL: a technician's link,
    # or a partner link made before links were kept; those still open, unannounced).
    token: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("(partner_id IS NULL) <> (technician_id IS NULL)", name="one_owner"),
        Index("ix_secret_link_partner_id", "partner_id"),
    )


def new_link_token(
    session: Session, *, partner_id: int | None = None, technician_id: int | None = None
) -> str:
    """A fresh token: a technician's replaces the previous one; a partner's is one more
    link beside its others, and the one its notices carry from now on."""
    if (partner_id is None) == (technician_id is None):
        raise ValueError("a link belongs to a partner or to a technician")
    token = "lnk_" + secrets.token_urlsafe(32)
    if partner_id is not None:
        session.add(SecretLink(partner_id=partner_id, token_hash=hash_key(token), token=token))
        session.flush()
        return token
    stmt = pg_insert(SecretLink).values(technician_id=technician_id, token_hash=hash_key(token))
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["technician_id"],
            set_={"token_hash": stmt.excluded.token_hash, "created_at": datetime.now(UTC)},
        )
    )
    return token


def partner_link_token(session: Session, *, partner_id: int) -> str:
    """The partner's stable link: its newest live link that can be announced, made on
    first use. Asking again gives the same token (re-sending cancels nothing)."""
    token = session.scalar(
        select(SecretLink.token)
        .where(
            SecretLink.partner_id == partner_id,
            SecretLink.revoked_at.is_(None),
            SecretLink.token.is_not(None),
        )
        .order_by(SecretLink.created_at.desc(), SecretLink.id.desc())
        .limit(1)
    )
    return token if token is not None else new_link_token(session, partner_id=partner_id)


def partner_links(session: Session, *, partner_id: int) -> list[SecretLink]:
    """A partner's links, revoked ones too, newest first."""
    return list(
        session.scalars(
            select(SecretLink)
            .where(SecretLink.partner_id == partner_id)
            .order_by(SecretLink.created_at.desc(), SecretLink.id.desc())
        )
    )


def revoke_partner_link(session: Session, *, partner_id: int, link_id: int) -> SecretLink:
    """Revoke one of the partner's links (again: nothing changes); its others stay open.
    Another partner's link id is a 404."""
    link = session.get(SecretLink, link_id)
    if link is None or link.partner_id != partner_id:
        raise NotFound(f"no link {link_id} of this partner")
    if link.revoked_at is None:
        link.revoked_at = datetime.now(UTC)
        session.flush()
    return link


def link_for_token(session: Session, token: str) -> SecretLink:
    """The link a token opens; 404 for an unknown, replaced or revoked token."""
    link = session.scalar(
        select(SecretLink).where(
            SecretLink.token_hash == hash_key(token), SecretLink.revoked_at.is_(None)
        )
    )
    if link is None:
        raise NotFound("nothing at this address (the link may have been replaced or revoked)")
    return link


def link_urls(token: str, *, partner: bool, base: str | None = None) -> dict[str, str]:
    """The link's addresses, under ``base`` (default: the public base URL setting)."""
    base = get_settings().public_base_url if base is None else base
    if partner:
        return {"calendar": f"{base}/feeds/{token}.ics", "portal": f"{base}/p/{token}/"}
    return {"sheets": f"{base}/t/{token}"}
