"""Where a webhook may point: a public address only. The URL's host is resolved, and a host
with any loopback, private, link-local, multicast, reserved or unspecified address is refused
(the server must not be made to post into its own network). Checked when a webhook is saved
and again before each delivery (the name may resolve elsewhere by then).
`CHARGEBACK_WEBHOOK_ALLOW_PRIVATE` (default False; the test settings set it) lifts the rule,
for a receiver on the loopback in tests."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


def internal_address(ip: str) -> str | None:
    """The address `ip` names when it is internal (an IPv4-mapped one as IPv4), else None."""
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if not address.is_global or address.is_multicast:
        return str(address)
    return None


def internal_problem(url: str) -> str | None:
    """Why `url` may not receive webhooks, or None when its host is public."""
    if getattr(settings, "CHARGEBACK_WEBHOOK_ALLOW_PRIVATE", False):
        return None
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "is not a valid URL"
    if not host:
        return "has no host"
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return f'the host "{host}" cannot be resolved'
    for *_rest, sockaddr in infos:
        if address := internal_address(sockaddr[0]):
            return (
                f'the host "{host}" resolves to {address}, an internal address (loopback, '
                "private, link-local or reserved): webhooks go to public addresses only"
            )
    return None
