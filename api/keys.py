"""API keys: only a SHA-256 hash is stored; the plain key is shown once at creation.

Keys are long random tokens, so a fast unsalted hash is enough (no dictionary to
attack) and lets a request find its key by an indexed equality lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base
from core.errors import InvalidInput, NotFound
from devices.models import Partner, Technician

ROLES = ("support_lead", "technician", "partner")
KEY_PREFIX = "fr_"


class ApiKey(Base):
    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    key_prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("technician.id"))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("role IN ('support_lead', 'technician', 'partner')", name="role"),
        # A key's binding follows from its role, and nothing else may be set.
        CheckConstraint(
            "(role = 'partner') = (partner_id IS NOT NULL)"
            " AND (role = 'technician') = (technician_id IS NOT NULL)",
            name="role_binding",
        ),
    )


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role and, for partner and technician keys, what it is bound to."""

    key_id: int
    role: str
    partner_id: int | None = None
    technician_id: int | None = None
    label: str | None = None

    @property
    def actor(self) -> str:
        return f"{self.role}:key{self.key_id}"


def hash_key(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def create_key(
    session: Session,
    *,
    role: str,
    partner_key: str | None = None,
    technician_key: str | None = None,
    label: str | None = None,
) -> str:
    """Store a new key and return its plain text (the only time it exists)."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    partner_id = technician_id = None
    if role == "partner":
        if not partner_key:
            raise InvalidInput("a partner key needs --partner PARTNER_KEY")
        partner_id = session.scalar(select(Partner.id).where(Partner.partner_key == partner_key))
        if partner_id is None:
            raise NotFound(f"no partner with partner_key {partner_key!r}")
    elif partner_key:
        raise InvalidInput("only partner keys are bound to a partner")
    if role == "technician":
        if not technician_key:
            raise InvalidInput("a technician key needs --technician TECHNICIAN_KEY")
        technician_id = session.scalar(
            select(Technician.id).where(Technician.technician_key == technician_key)
        )
        if technician_id is None:
            raise NotFound(f"no technician with technician_key {technician_key!r}")
    elif technician_key:
        raise InvalidInput("only technician keys are bound to a technician")
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiKey(
            key_hash=hash_key(plain),
            key_prefix=plain[:10],
            role=role,
            partner_id=partner_id,
            technician_id=technician_id,
            label=label,
        )
    )
    session.flush()
    return plain


def principal_for(session: Session, plain: str) -> Principal | None:
    """The principal of a presented key, or None for an unknown or revoked key."""
    row = session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_key(plain), ApiKey.revoked_at.is_(None))
    )
    if row is None:
        return None
    return Principal(
        key_id=row.id,
        role=row.role,
        partner_id=row.partner_id,
        technician_id=row.technician_id,
        label=row.label,
    )
