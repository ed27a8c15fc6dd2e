"""Secret links: an API key asks for one; the link's pages need no key (calendar apps,
phones and printers cannot send one), the token in the address is the secret.

- partner link: ``/feeds/<token>.ics`` (scheduled visits) and ``/p/<token>`` (status page)
- technician link: ``/t/<token>`` (route sheets by day, in every format)
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from core.deps import get_session, require_roles
from core.errors import InvalidInput
from core.links import link_urls, new_link_token
from core.security import Principal
from devices import service as devices

router = APIRouter(prefix="/api/v1", tags=["links"])


class LinkOut(BaseModel):
    owner: str  # partner:<key> or technician:<key>
    urls: dict[str, str]


def _owner(
    session: Session, principal: Principal, partner: str | None, technician: str | None
) -> tuple[int | None, int | None, str]:
    if principal.role == "partner":
        assert principal.partner_id is not None
        key = devices.partner_key(session, principal.partner_id)
        return principal.partner_id, None, f"partner:{key}"
    if principal.role == "technician":
        assert principal.technician_id is not None
        key = devices.technician_key(session, principal.technician_id)
        return None, principal.technician_id, f"technician:{key}"
    if (partner is None) == (technician is None):
        raise InvalidInput("a support lead names one owner: ?partner=KEY or ?technician=KEY")
    if partner is not None:
        return devices.partner_id(session, partner), None, f"partner:{partner}"
    assert technician is not None
    return None, devices.technician_id(session, technician), f"technician:{technician}"


@router.post("/links", response_model=LinkOut, status_code=201)
def create_link(
    partner: str | None = Query(None, description="partner_key (support lead only)"),
    technician: str | None = Query(None, description="technician_key (support lead only)"),
    principal: Principal = Depends(require_roles("partner", "technician", "support_lead")),
    session: Session = Depends(get_session),
) -> LinkOut:
    """A new secret link for the caller (or, for a support lead, the named owner); the
    previous link stops working. Shown once."""
    partner_id, technician_id, owner = _owner(session, principal, partner, technician)
    token = new_link_token(session, partner_id=partner_id, technician_id=technician_id)
    return LinkOut(owner=owner, urls=link_urls(token, partner=partner_id is not None))
