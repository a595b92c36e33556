"""Where a webhook may point: a public address only. The URL's host is resolved, and a host
with any loopback, private, link-local, multicast, reserved or unspecified address is refused
(the server must not be made to post into its own network). Checked when a webhook is saved
and again before each delivery (the name may resolve elsewhere by then). A delivery resolves
the host once, with `resolve`, and connects to the addresses checked there, never to a second
resolution of the name: a name that answers a public address to the check and an internal one
to the connection (DNS rebinding) cannot steer the post inward.
`CHARGEBACK_WEBHOOK_ALLOW_PRIVATE` (default False; the test settings set it) lifts the rule,
for a receiver on the loopback in tests."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

DEFAULT_PORTS = {"http": 80, "https": 443}


class Refused(Exception):
    """Why a URL may not receive webhooks (the message reads on from "The URL ...")."""


@dataclass(frozen=True)
class Target:
    """A webhook URL's host and port, and the addresses its host resolved to (each a
    `(family, sockaddr)` pair as `socket.getaddrinfo` gives it), checked unless allowed."""

    host: str
    port: int
    addresses: tuple[tuple[int, tuple], ...]


# IPv6 prefixes that carry an IPv4 address in their last 32 bits, which a host with such a
# route (a NAT64 gateway, 6to4 relay) reaches: NAT64's well-known and local-use prefixes and
# the deprecated IPv4-compatible form. (IPv4-mapped and 6to4 have their own accessors.)
EMBEDDING = tuple(ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96"))


def internal_address(ip: str) -> str | None:
    """The address `ip` names when it is internal, else None. An IPv6 address that carries an
    IPv4 one (IPv4-mapped, 6to4, NAT64, IPv4-compatible) is judged by the IPv4 address too."""
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    judged = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped or address.sixtofour:
            judged.append(address.ipv4_mapped or address.sixtofour)
        elif any(address in net for net in EMBEDDING):
            judged.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    for a in judged:
        if not a.is_global or a.is_multicast:
            return str(a)
    return None


def _allow_private() -> bool:
    return getattr(settings, "CHARGEBACK_WEBHOOK_ALLOW_PRIVATE", False)


def resolve(url: str) -> Target:
    """Resolve `url`'s host once and check every address (unless the setting allows internal
    ones); raises Refused. The delivery connects to these addresses only."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise Refused("is not a valid URL") from None
    if not host:
        raise Refused("has no host")
    port = port or DEFAULT_PORTS.get(parts.scheme.lower(), 443)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise Refused(f'the host "{host}" cannot be resolved') from None
    addresses = tuple(dict.fromkeys((family, sockaddr) for family, *_rest, sockaddr in infos))
    if not _allow_private():
        for _family, sockaddr in addresses:
            if address := internal_address(sockaddr[0]):
                raise Refused(
                    f'the host "{host}" resolves to {address}, an internal address (loopback, '
                    "private, link-local or reserved): webhooks go to public addresses only"
                )
    return Target(host=host, port=port, addresses=addresses)


def internal_problem(url: str) -> str | None:
    """Why `url` may not receive webhooks, or None when its host is public."""
    if _allow_private():
        return None
    try:
        resolve(url)
    except Refused as exc:
        return str(exc)
    return None
