"""Creating API keys: the plain key is returned once and only its hash is stored."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.security import ROLES, ApiKey, hash_key
from devices import service as devices

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
