"""Where a webhook may point: a partner names the URL, the worker sends to it, so an
unchecked URL lets a partner make the worker reach inside (the database's port on
loopback, a cloud metadata service, an admin page on the private network).

A target is checked when the webhook is registered and again at every delivery: its host
is resolved and *every* address it resolves to must be globally reachable. Loopback,
private, link-local, multicast, unspecified, shared and reserved ranges are refused
unless the operator's allow-list (``FIELDRECALL_WEBHOOK_ALLOW_NETWORKS``) names them.
Resolution, not the URL's text, decides: ``http://2130706433/``, ``http://0x7f.1/`` and
``http://[::ffff:127.0.0.1]/`` are all 127.0.0.1. The delivery then connects to the
address that was checked, so a name cannot resolve to a public address for the check and
to a private one for the connection.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]


class TargetRefused(Exception):
    """The URL may not be a webhook target; the message says why, in the partner's terms
    (it names the address class, never what answers there)."""


@dataclass(frozen=True)
class Target:
    """A checked target: the URL's parts and the address the request must go to."""

    scheme: str
    host: str
    port: int
    address: str

    def connect_url(self, url: str) -> str:
        """``url`` with its host replaced by the checked address (Host header and TLS
        name stay the original host)."""
        parts = urlsplit(url)
        literal = f"[{self.address}]" if ":" in self.address else self.address
        netloc = f"{literal}:{self.port}"
        return parts._replace(netloc=netloc).geturl()


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """The allow-list setting: comma-separated addresses or CIDR networks."""
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if item:
            networks.append(ipaddress.ip_network(item, strict=False))
    return tuple(networks)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), as the OS resolver says."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _why_refused(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _why_refused(address.ipv4_mapped)
    for name, flag in (
        ("an unspecified", address.is_unspecified),
        ("a loopback", address.is_loopback),
        ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast),
        ("a private", address.is_private),
        ("a reserved", address.is_reserved),
    ):
        if flag:
            return f"{name} address"
    if not address.is_global:
        return "an address that is not globally reachable"
    return None


def check_target(
    url: str, *, allow: tuple[IPNetwork, ...] = (), resolve: Resolver | None = None
) -> Target:
    """Resolve ``url``'s host and check every address; the first one is the one to use.
    Raises TargetRefused when the URL is not an http(s) URL, does not resolve, or any of
    its addresses lies in a refused range the allow-list does not name."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("a webhook URL is an absolute http(s) URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise TargetRefused("the webhook URL's port is not a number from 1 to 65535") from exc
    host = parts.hostname
    resolve = resolve or system_resolver
    try:
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host, port)]
    except (OSError, UnicodeError, ValueError) as exc:
        raise TargetRefused(f"the webhook host {host!r} does not resolve") from exc
    if not addresses:
        raise TargetRefused(f"the webhook host {host!r} does not resolve")
    for address in addresses:
        why = _why_refused(address)
        if why is not None and not any(address in network for network in allow):
            raise TargetRefused(
                f"the webhook host {host!r} resolves to {why} ({address}); webhooks go to "
                "public addresses only"
            )
    return Target(scheme=parts.scheme, host=host, port=port, address=str(addresses[0]))
