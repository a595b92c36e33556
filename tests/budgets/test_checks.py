"""Threshold and forecast alerts fire once per unit and month; email and signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django_scopes import scopes_disabled

from chargeback.budgets.checks import check_budgets
from chargeback.budgets.models import Alert, Delivery, Webhook
from chargeback.tenancy.scoping import within
from tests import factories as f
from tests.budgets.conftest import TODAY, make_budget


def test_thresholds_fire_once_per_unit_and_month(org_a, spending, finance):
    make_budget(org_a, spending["sales"], amount="2500")  # spent 2,000 = 80%; forecast 3,100
    with within(org_a):
        first = check_budgets(organization=org_a, today=TODAY)
        again = check_budgets(organization=org_a, today=TODAY)
        alerts = list(Alert.objects.order_by("kind", "threshold"))
    assert sorted((a.kind, a.threshold) for a in first) == [
        ("forecast", 100), ("threshold", 50), ("threshold", 80)]  # fmt: skip
    assert again == []
    assert len(alerts) == 3
    a80 = next(a for a in alerts if a.threshold == 80 and a.kind == "threshold")
    assert a80.spend == Decimal(2000) and a80.budget == Decimal(2500)
    assert a80.forecast == Decimal(3100)
    assert a80.drivers == [
        {"provider": "openai", "model": "gpt-4o-mini", "service": "svc", "cost": "2000"}
    ]


def test_no_forecast_alert_once_the_budget_is_crossed(org_a, spending):
    make_budget(org_a, spending["de"], amount="1500")
    with within(org_a):
        fired = check_budgets(organization=org_a, today=TODAY)
    assert sorted((a.kind, a.threshold) for a in fired) == [
        ("threshold", 50), ("threshold", 80), ("threshold", 100)]  # fmt: skip


def test_email_goes_to_the_owner_and_finance(
    org_a, spending, finance, admin, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        spending["sales"].owner_email = "owner@alpha.example"
        spending["sales"].save()
    make_budget(org_a, spending["sales"], amount="4000", thresholds=[50])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with within(org_a):
            check_budgets(organization=org_a, today=TODAY)
        assert mail.outbox == []  # sent only once the alert's transaction commits
    assert len(callbacks) == 1
    with within(org_a):
        delivery = Delivery.objects.get(channel="email")
    assert delivery.status == "sent" and delivery.attempts == 1
    assert len(mail.outbox) == 1
    msg = mail.outbox[0]
    assert sorted(msg.to) == ["finance@alpha.example", "owner@alpha.example"]
    assert "Sales (SALES) reached 50% of its 2026-10 budget" in msg.subject
    assert "gpt-4o-mini / svc: 2000.00" in msg.body
    assert f"/o/alpha/units/{spending['sales'].pk}/spend/" in msg.body


class _Receiver(BaseHTTPRequestHandler):
    received: list = []
    status = 200

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    _Receiver.status = 200
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, _Receiver
    server.shutdown()
    server.server_close()


def test_webhook_received_on_loopback_with_a_valid_signature(
    org_a, spending, receiver, django_capture_on_commit_callbacks
):
    server, handler = receiver
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with scopes_disabled():
        Webhook.objects.create(organization=org_a, name="ops", url=url, secret="s3cret")
    make_budget(org_a, spending["sales"], amount="4000", thresholds=[50])
    with django_capture_on_commit_callbacks(execute=True), within(org_a):
        check_budgets(organization=org_a, today=TODAY)
    with within(org_a):
        delivery = Delivery.objects.get(channel="webhook")
    assert delivery.status == "sent" and delivery.response_code == 200
    assert len(handler.received) == 1
    headers, body = handler.received[0]
    ts = headers["X-Chargeback-Timestamp"]
    expected = hmac.new(b"s3cret", f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["X-Chargeback-Signature"] == f"sha256={expected}"
    data = json.loads(body)
    assert data["text"].startswith("Sales (SALES) reached 50% of its 2026-10 budget")
    assert data["alert"]["unit"] == "SALES" and data["alert"]["spend"].startswith("2000")


def test_a_failing_webhook_is_retried_and_recorded(org_a, spending, receiver):
    """The delivery task retries with backoff (run here in-process, so without the waits) and
    records every attempt; after the last retry the delivery is failed with its reason."""
    from chargeback.budgets.delivery import deliver

    server, handler = receiver
    handler.status = 500
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with scopes_disabled():
        Webhook.objects.create(organization=org_a, name="ops", url=url, secret="s")
    make_budget(org_a, spending["sales"], amount="4000", thresholds=[50])
    with within(org_a):
        check_budgets(organization=org_a, today=TODAY)  # queued on commit: not run here
        delivery = Delivery.objects.get(channel="webhook")
    assert delivery.status == "pending" and delivery.attempts == 0
    app = deliver.app
    propagates, app.conf.task_eager_propagates = app.conf.task_eager_propagates, False
    try:  # in-process retries run one inside another; let each record its outcome
        deliver.apply(args=[delivery.pk])
    finally:
        app.conf.task_eager_propagates = propagates
    with within(org_a):
        delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.attempts == 7  # the first try and six retries
    assert delivery.response_code == 500 and delivery.last_error == "HTTP 500"
    assert len(handler.received) == 7


def test_other_organisations_are_untouched(org_a, org_b, spending):
    make_budget(org_a, spending["sales"], amount="4000", thresholds=[50])
    with scopes_disabled():
        bunit = f.BusinessUnitFactory(organization=org_b, code="BX", name="BX")
    make_budget(org_b, bunit, amount="1")
    with within(org_a):
        fired = check_budgets(organization=org_a, today=TODAY)
    assert [a.unit.code for a in fired] == ["SALES"]


def test_an_archived_unit_fires_nothing(org_a, spending):
    with scopes_disabled():
        spending["sales"].archived = True
        spending["sales"].save()
    make_budget(org_a, spending["sales"], amount="100")
    with within(org_a):
        assert check_budgets(organization=org_a, today=TODAY) == []
