"""API keys and the calling principal. Only a SHA-256 hash of a key is stored.

Keys are long random tokens, so a fast unsalted hash is enough (there is no dictionary
to attack) and lets a request find its key by an indexed equality lookup.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base

ROLES = ("support_lead", "technician", "partner")


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

    @property
    def tenant(self) -> str:
        """Whose namespace this caller's idempotency keys live in: support leads share
        one, each partner and each technician has its own."""
        if self.role == "partner":
            return f"partner:{self.partner_id}"
        if self.role == "technician":
            return f"technician:{self.technician_id}"
        return self.role

    @property
    def partner_scope(self) -> int | None:
        """The partner whose data alone this caller may see; None means every partner."""
        return self.partner_id if self.role == "partner" else None


def hash_key(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def principal_for(session: Session, plain: str) -> Principal | None:
    """The principal of a presented key, or None for an unknown or revoked key."""
    row = session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_key(plain), ApiKey.revoked_at.is_(None))
    )
    return _principal(row)


def principal_by_key_id(session: Session, key_id: int) -> Principal | None:
    """The principal of a stored key by its id (a page session names its key by id, never
    by its secret), or None when the key is unknown or revoked."""
    row = session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)))
    return _principal(row)


def _principal(row: ApiKey | None) -> Principal | None:
    if row is None:
        return None
    return Principal(
        key_id=row.id,
        role=row.role,
        partner_id=row.partner_id,
        technician_id=row.technician_id,
        label=row.label,
    )


class PrincipalCache:
    """Keys found in the last ``ttl_s`` seconds, so that a burst of requests with one key
    does not look it up every time (one database round trip per request saved). A
    revoked key therefore stops working within ``ttl_s`` in every server process; unknown
    keys are never cached. Each app holds its own."""

    MAX_ENTRIES = 10_000

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._found: dict[str, tuple[float, Principal]] = {}

    def principal(self, session: Session, plain: str) -> Principal | None:
        """The key's principal, from the cache when fresh, else from the database."""
        now = time.monotonic()
        hit = self._found.get(plain)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        found = principal_for(session, plain)
        if found is not None and self.ttl_s > 0:
            if len(self._found) >= self.MAX_ENTRIES:
                self._found.clear()
            self._found[plain] = (now, found)
        return found
