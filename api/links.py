"""Secret links: an API key asks for one; the link's pages need no key (calendar apps,
phones and printers cannot send one), the token in the address is the secret.

- partner link: ``/feeds/<token>.ics`` (scheduled visits) and ``/p/<token>`` (status page)
- technician link: ``/t/<token>`` (route sheets by day, in every format)

Links expire and are revoked one by one (core/links.py). A partner or a technician sees and
revokes its own links; a support lead any owner's, and lists a partner's links to send
one of them again without cancelling it. Addresses follow the address the request came
to (port included), or ``FIELDRECALL_PUBLIC_BASE_URL`` when set.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from core.deps import get_session, require_roles
from core.errors import InvalidInput
from core.inputs import IdPath
from core.links import (
    SecretLink,
    active_links,
    link_urls,
    new_link,
    public_base,
    revoke_link,
    token_of,
)
from core.security import Principal
from devices import service as devices
from devices.filters import filter_ids

router = APIRouter(prefix="/api/v1", tags=["links"])
anyone = require_roles("partner", "technician", "support_lead")


class LinkOut(BaseModel):
    id: int
    owner: str = Field(description="partner:<key> or technician:<key>")
    urls: dict[str, str] = Field(description="empty for a link that cannot be sent again")
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


def _owner(
    session: Session, principal: Principal, partner: str | None, technician: str | None
) -> tuple[int | None, int | None]:
    """Whose links a request means: the caller's own, or the one a support lead names
    (None, None: a support lead naming nobody, for listing every link)."""
    if principal.role == "partner":
        return principal.partner_id, None
    if principal.role == "technician":
        return None, principal.technician_id
    if partner is not None and technician is not None:
        raise InvalidInput("name one owner: ?partner=KEY or ?technician=KEY")
    if partner is not None:
        return devices.partner_id(session, partner), None
    if technician is not None:
        return None, devices.technician_id(session, technician)
    return None, None


def _out(session: Session, request: Request, link: SecretLink, token: str | None) -> LinkOut:
    if link.partner_id is not None:
        owner = f"partner:{devices.partner_key(session, link.partner_id)}"
    else:
        assert link.technician_id is not None
        owner = f"technician:{devices.technician_key(session, link.technician_id)}"
    if token is None and link.nonce is not None and link.revoked_at is None:
        token = token_of(session, link)
    base = public_base(str(request.base_url))
    urls = link_urls(token, partner=link.partner_id is not None, base=base) if token else {}
    return LinkOut(
        id=link.id,
        owner=owner,
        urls=urls,
        created_at=link.created_at,
        expires_at=link.expires_at,
        revoked_at=link.revoked_at,
    )


@router.post("/links", response_model=LinkOut, status_code=201)
def create_link(
    request: Request,
    partner: str | None = Query(None, max_length=100, description="partner_key (lead only)"),
    technician: str | None = Query(None, max_length=100, description="technician_key (lead)"),
    days: int | None = Query(None, ge=1, le=3650, description="lifetime (default: setting)"),
    principal: Principal = Depends(anyone),
    session: Session = Depends(get_session),
) -> LinkOut:
    """A new secret link for the caller (or, for a support lead, the named owner). The
    owner's other links stay valid; revoke them one by one."""
    partner_id, technician_id = _owner(session, principal, partner, technician)
    if partner_id is None and technician_id is None:
        raise InvalidInput("a support lead names one owner: ?partner=KEY or ?technician=KEY")
    issued = new_link(
        session,
        partner_id=partner_id,
        technician_id=technician_id,
        actor=principal.actor,
        days=days,
    )
    return _out(session, request, issued.link, issued.token)


@router.get("/links", response_model=list[LinkOut])
def list_links(
    request: Request,
    partner: str | None = Query(None, max_length=100, description="partner_key (lead only)"),
    technician: str | None = Query(None, max_length=100, description="technician_key (lead)"),
    principal: Principal = Depends(anyone),
    session: Session = Depends(get_session),
) -> list[LinkOut]:
    """The links that open now, with their addresses (to send one again)."""
    # Filters naming a partner or technician nobody knows are a 422 naming them.
    filter_ids(session, partner=partner, technician=technician)
    partner_id, technician_id = _owner(session, principal, partner, technician)
    links = active_links(session, partner_id=partner_id, technician_id=technician_id)
    return [_out(session, request, link, None) for link in links]


@router.delete("/links/{link_id}", response_model=LinkOut)
def delete_link(
    request: Request,
    link_id: IdPath,
    principal: Principal = Depends(anyone),
    session: Session = Depends(get_session),
) -> LinkOut:
    """Revoke one link; the owner's other links stay valid."""
    link = revoke_link(
        session,
        link_id,
        partner_id=principal.partner_id if principal.role == "partner" else None,
        technician_id=principal.technician_id if principal.role == "technician" else None,
    )
    return _out(session, request, link, None)
