"""Secret links: an API key asks for one; the link's pages need no key (calendar apps,
phones and printers cannot send one), the token in the address is the secret.

- partner link: ``/feeds/<token>.ics`` (scheduled visits) and ``/p/<token>/`` (portal).
  A partner may have several, each revoked on its own; its newest live link is the one
  every notice carries, and re-sending it cancels nothing.
- technician link: ``/t/<token>`` (route sheets by day, in every format); a new one
  replaces the old
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from core.deps import get_session, require_roles
from core.errors import InvalidInput
from core.links import (
    SecretLink,
    link_urls,
    new_link_token,
    partner_links,
    revoke_partner_link,
)
from core.security import Principal
from devices import service as devices
from recall.campaigns.notices import portal_link_resent

router = APIRouter(prefix="/api/v1", tags=["links"])


class LinkOut(BaseModel):
    owner: str  # partner:<key> or technician:<key>
    urls: dict[str, str]
    id: int | None = None  # a partner link's id (to revoke it)


class PartnerLinkOut(BaseModel):
    id: int
    created_at: datetime
    revoked_at: datetime | None
    urls: dict[str, str] | None  # None: made before links were kept; it opens, unannounced


class ResentOut(BaseModel):
    owner: str
    urls: dict[str, str]
    idempotency_key: str


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
    """A new secret link for the caller (or, for a support lead, the named owner). A
    technician's previous link stops working; a partner's others stay open, and this one
    is the link its notices carry from now on."""
    partner_id, technician_id, owner = _owner(session, principal, partner, technician)
    token = new_link_token(session, partner_id=partner_id, technician_id=technician_id)
    made = None
    if partner_id is not None:
        made = partner_links(session, partner_id=partner_id)[0].id
    return LinkOut(owner=owner, urls=link_urls(token, partner=partner_id is not None), id=made)


def _partner(session: Session, principal: Principal, partner: str | None) -> tuple[int, str]:
    partner_id, _, owner = _owner(session, principal, partner, None)
    if partner_id is None:
        raise InvalidInput("partner links only: ?partner=KEY (support lead) or a partner key")
    return partner_id, owner


def _link_out(link: SecretLink) -> PartnerLinkOut:
    urls = None if link.token is None else link_urls(link.token, partner=True)
    return PartnerLinkOut(
        id=link.id, created_at=link.created_at, revoked_at=link.revoked_at, urls=urls
    )


@router.get("/links", response_model=list[PartnerLinkOut])
def list_partner_links(
    partner: str | None = Query(None, description="partner_key (support lead only)"),
    principal: Principal = Depends(require_roles("partner", "support_lead")),
    session: Session = Depends(get_session),
) -> list[PartnerLinkOut]:
    """A partner's links, newest first, revoked ones too."""
    if principal.role == "support_lead":
        devices.filter_ids(session, partner=partner)  # an unknown key: a 422 naming it
    partner_id, _ = _partner(session, principal, partner)
    return [_link_out(link) for link in partner_links(session, partner_id=partner_id)]


@router.post("/links/resend", response_model=ResentOut, status_code=201)
def resend_partner_link(
    partner: str | None = Query(None, description="partner_key (support lead only)"),
    principal: Principal = Depends(require_roles("partner", "support_lead")),
    session: Session = Depends(get_session),
) -> ResentOut:
    """Send the partner its stable portal link again (a ``portal_link`` notice); no link
    is cancelled."""
    partner_id, owner = _partner(session, principal, partner)
    token, key = portal_link_resent(session, partner_id=partner_id, actor=principal.actor)
    return ResentOut(owner=owner, urls=link_urls(token, partner=True), idempotency_key=key)


@router.post("/links/{link_id}/revoke", status_code=204)
def revoke_link(
    link_id: int,
    partner: str | None = Query(None, description="partner_key (support lead only)"),
    principal: Principal = Depends(require_roles("partner", "support_lead")),
    session: Session = Depends(get_session),
) -> Response:
    """Revoke one partner link; its pages answer "this link opens nothing" from now on,
    the partner's other links stay open. Revoking again changes nothing."""
    partner_id, _ = _partner(session, principal, partner)
    revoke_partner_link(session, partner_id=partner_id, link_id=link_id)
    return Response(status_code=204)
