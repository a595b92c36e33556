"""Sending an alert: email through Django's email backend, and webhooks as a signed JSON POST.

A webhook body is JSON with a Slack-compatible `text` and the alert's figures. Headers:
`X-Chargeback-Timestamp` (Unix seconds) and `X-Chargeback-Signature` =
`sha256=` + hex HMAC-SHA256 of `"<timestamp>.<body>"` with the webhook's secret. A receiver
recomputes it and rejects old timestamps (replays). A redirect is not followed (the address
check covers the URL saved, not where a redirect points): the delivery fails with its code.
The connection goes to the addresses the check resolved (addresses.resolve), not to a fresh
lookup of the name; the Host header, and for https the SNI name and the certificate check,
still use the URL's host. No proxy from the environment is used (a proxy would look the name
up again)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import http.client
import json
import socket
import ssl
import time
import urllib.error
import urllib.request

from django.core.mail import send_mail

from chargeback.budgets.addresses import Refused, Target, resolve
from chargeback.budgets.models import Alert, Webhook
from chargeback.budgets.texts import headline, message, unit_url

TIMEOUT_SECONDS = 10
SIGNATURE_HEADER = "X-Chargeback-Signature"
TIMESTAMP_HEADER = "X-Chargeback-Timestamp"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx code


def _connect(addresses: tuple[tuple[int, tuple], ...], timeout: float) -> socket.socket:
    """A TCP connection to the first of `addresses` that answers (no name lookup here)."""
    error: OSError = OSError("the host resolved to no address")
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise error


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, *, addresses: tuple, **kwargs) -> None:
        super().__init__(host, **kwargs)
        self.addresses = addresses

    def connect(self) -> None:
        self.sock = _connect(self.addresses, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, *, addresses: tuple, tls: ssl.SSLContext, **kwargs) -> None:
        super().__init__(host, context=tls, **kwargs)
        self.addresses, self.tls = addresses, tls

    def connect(self) -> None:
        sock = _connect(self.addresses, self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, target: Target) -> None:
        super().__init__()
        self.target = target

    def http_open(self, req):
        connection = functools.partial(_PinnedHTTPConnection, addresses=self.target.addresses)
        return self.do_open(connection, req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, target: Target) -> None:
        self.tls = ssl.create_default_context()  # verifies the certificate for the URL's host
        super().__init__(context=self.tls)
        self.target = target

    def https_open(self, req):
        connection = functools.partial(
            _PinnedHTTPSConnection, addresses=self.target.addresses, tls=self.tls
        )
        return self.do_open(connection, req)


def _opener(target: Target) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        _NoRedirects,
        urllib.request.ProxyHandler({}),
        _PinnedHTTPHandler(target),
        _PinnedHTTPSHandler(target),
    )


class DeliveryFailed(Exception):
    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.code = code


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def payload(alert: Alert) -> dict:
    return {
        "text": message(alert),
        "alert": {
            "id": alert.pk,
            "organization": alert.organization.slug,
            "unit": alert.unit.code,
            "month": alert.month,
            "kind": alert.kind,
            "threshold": alert.threshold,
            "spend": str(alert.spend),
            "budget": str(alert.budget),
            "forecast": str(alert.forecast),
            "currency": alert.organization.currency,
            "drivers": alert.drivers,
            "url": unit_url(alert),
        },
    }


def send_email(alert: Alert, recipients: list[str]) -> None:
    send_mail(
        subject=f"Budget alert: {headline(alert)}"[:200],
        message=message(alert),
        from_email=None,
        recipient_list=recipients,
    )


def post_webhook(alert: Alert, hook: Webhook) -> int:
    """POST the signed body; returns the response code, raises DeliveryFailed otherwise."""
    if not hook.url.lower().startswith(("http://", "https://")):
        raise DeliveryFailed(f"not an http(s) URL: {hook.url}")
    try:
        target = resolve(hook.url)
    except Refused as exc:
        raise DeliveryFailed(f"refused: {exc}") from None
    body = json.dumps(payload(alert), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310 (http and https only, checked above)
        hook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "chargeback-alerts",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(hook.secret, timestamp, body),
        },
    )
    try:
        with _opener(target).open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"HTTP {exc.code}", exc.code) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryFailed(str(getattr(exc, "reason", exc))) from exc
