"""Sending an alert: email through Django's email backend, and webhooks as a signed JSON POST.

A webhook body is JSON with a Slack-compatible `text` and the alert's figures. Headers:
`X-Chargeback-Timestamp` (Unix seconds) and `X-Chargeback-Signature` =
`sha256=` + hex HMAC-SHA256 of `"<timestamp>.<body>"` with the webhook's secret. A receiver
recomputes it and rejects old timestamps (replays). A redirect is not followed (the address
check covers the URL saved, not where a redirect points): the delivery fails with its code."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

from django.core.mail import send_mail

from chargeback.budgets.addresses import internal_problem
from chargeback.budgets.models import Alert, Webhook
from chargeback.budgets.texts import headline, message, unit_url

TIMEOUT_SECONDS = 10
SIGNATURE_HEADER = "X-Chargeback-Signature"
TIMESTAMP_HEADER = "X-Chargeback-Timestamp"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx code


_opener = urllib.request.build_opener(_NoRedirects)


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
    if problem := internal_problem(hook.url):
        raise DeliveryFailed(f"refused: {problem}")
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
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"HTTP {exc.code}", exc.code) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryFailed(str(getattr(exc, "reason", exc))) from exc
