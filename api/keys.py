"""API keys: creating one (the plain key is returned once and only its hash is stored),
listing them (by id and first characters) and revoking one."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.security import ROLES, ApiKey, hash_key
from devices import service as devices
from devices.models import Partner, Technician

KEY_PREFIX = "fr_"


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
        partner_id = devices.partner_id(session, partner_key)
    elif partner_key:
        raise InvalidInput("only partner keys are bound to a partner")
    if role == "technician":
        if not technician_key:
            raise InvalidInput("a technician key needs --technician TECHNICIAN_KEY")
        technician_id = devices.technician_id(session, technician_key)
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


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown of a key: never the key itself, only its first characters."""

    id: int
    prefix: str
    role: str
    bound_to: str | None
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


def list_keys(session: Session, *, include_revoked: bool = False) -> list[KeyInfo]:
    """Every key (the live ones unless ``include_revoked``), oldest first."""
    stmt = (
        select(ApiKey, Partner.partner_key, Technician.technician_key)
        .outerjoin(Partner, Partner.id == ApiKey.partner_id)
        .outerjoin(Technician, Technician.id == ApiKey.technician_id)
        .order_by(ApiKey.id)
    )
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return [
        KeyInfo(
            id=key.id,
            prefix=key.key_prefix,
            role=key.role,
            bound_to=f"partner:{partner}" if partner else (f"technician:{tech}" if tech else None),
            label=key.label,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )
        for key, partner, tech in session.execute(stmt)
    ]


def revoke_key(session: Session, which: str) -> KeyInfo:
    """Revoke a key named by its id or by its prefix (as `keys list` shows them); a key
    already revoked stays as it was. 404 for no such key, 422 for a prefix of several."""
    stmt = select(ApiKey).with_for_update()
    if which.isdigit():
        stmt = stmt.where(ApiKey.id == int(which))
    else:
        stmt = stmt.where(ApiKey.key_prefix.startswith(which, autoescape=True))
    found = list(session.scalars(stmt))
    if not found:
        raise NotFound(f"no API key {which!r}")
    if len(found) > 1:
        raise InvalidInput(f"{which!r} is the prefix of {len(found)} keys; give the key's id")
    key = found[0]
    if key.revoked_at is None:
        key.revoked_at = session.scalar(select(func.now()))
        session.flush()
    return next(k for k in list_keys(session, include_revoked=True) if k.id == key.id)
