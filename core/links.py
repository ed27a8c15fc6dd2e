"""Secret links, for people who cannot send an API key: a partner's calendar feed and
status page, a technician's route sheets (opened on a phone, printed, imported into a
calendar or a navigator).

A link carries a random token; only its hash is stored, as for API keys, so a leaked
database does not leak links, and asking for a new link revokes the old one.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base
from core.errors import NotFound
from core.security import hash_key
from core.settings import get_settings


class SecretLink(Base):
    __tablename__ = "secret_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), unique=True)
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("technician.id"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    __table_args__ = (
        CheckConstraint("(partner_id IS NULL) <> (technician_id IS NULL)", name="one_owner"),
    )


def new_link_token(
    session: Session, *, partner_id: int | None = None, technician_id: int | None = None
) -> str:
    """A fresh token for a partner or a technician; the previous one stops working."""
    if (partner_id is None) == (technician_id is None):
        raise ValueError("a link belongs to a partner or to a technician")
    owner = "partner_id" if partner_id is not None else "technician_id"
    token = "lnk_" + secrets.token_urlsafe(32)
    stmt = pg_insert(SecretLink).values(
        partner_id=partner_id, technician_id=technician_id, token_hash=hash_key(token)
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[owner],
            set_={"token_hash": stmt.excluded.token_hash, "created_at": datetime.now(UTC)},
        )
    )
    return token


def link_for_token(session: Session, token: str) -> SecretLink:
    """The link a token opens; 404 for an unknown or replaced token."""
    link = session.scalar(select(SecretLink).where(SecretLink.token_hash == hash_key(token)))
    if link is None:
        raise NotFound("nothing at this address (the link may have been replaced)")
    return link


def link_urls(token: str, *, partner: bool, base: str | None = None) -> dict[str, str]:
    """The link's addresses, under ``base`` (default: the public base URL setting)."""
    base = get_settings().public_base_url if base is None else base
    if partner:
        return {"calendar": f"{base}/feeds/{token}.ics", "status": f"{base}/p/{token}"}
    return {"sheets": f"{base}/t/{token}"}
