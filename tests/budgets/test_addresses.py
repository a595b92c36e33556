"""Alert webhooks go to public addresses only: a host that resolves to a loopback, private,
link-local or reserved address is refused with a field error, and not posted to."""

from __future__ import annotations

import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django_scopes import scopes_disabled

from chargeback.budgets.addresses import internal_problem
from chargeback.budgets.models import Alert, Webhook
from chargeback.tenancy.scoping import within
from chargeback.units.models import BusinessUnit

INTERNAL = [
    "http://127.0.0.1:9/hook",
    "http://localhost/hook",
    "https://10.1.2.3/hook",
    "https://192.168.0.10/hook",
    "https://172.16.5.4/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/hook",
    "http://[fe80::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
    "http://240.0.0.1/hook",
]


@pytest.fixture
def strict(settings):
    settings.CHARGEBACK_WEBHOOK_ALLOW_PRIVATE = False


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_addresses_are_refused(strict, url):
    assert "internal address" in internal_problem(url)


def test_a_public_address_is_accepted(strict):
    assert internal_problem("https://93.184.215.14/hook") is None
    assert internal_problem("https://[2606:4700::1111]/hook") is None


def test_an_unresolvable_host_is_refused(strict):
    assert "cannot be resolved" in internal_problem("https://no-such-host.invalid/hook")


def test_the_form_names_the_url_field_and_saves_nothing(strict, client_for, admin, org_a):
    response = client_for(admin).post("/o/alpha/alert-webhooks/", {
        "action": "create", "name": "ops", "url": "http://169.254.169.254/x", "secret": "s"})  # fmt: skip
    assert response.status_code == 200
    errors = response.context["form"].errors["url"]
    assert "169.254.169.254" in errors[0] and "internal address" in errors[0]
    with within(org_a):
        assert not Webhook.objects.exists()


def test_the_setting_allows_the_loopback_for_tests(settings):
    settings.CHARGEBACK_WEBHOOK_ALLOW_PRIVATE = True
    assert internal_problem("http://127.0.0.1:9/hook") is None


def test_a_delivery_to_an_internal_address_is_refused(strict, org_a):
    from chargeback.budgets.channels import DeliveryFailed, post_webhook

    hook = Webhook(organization=org_a, name="ops", url="http://127.0.0.1:9/hook", secret="s")
    with pytest.raises(DeliveryFailed, match="refused: the host"):
        post_webhook(None, hook)


class _Redirector(BaseHTTPRequestHandler):
    """A webhook receiver that answers every POST with a redirect to `/internal`, and records
    any request that reaches `/internal` (where an internal service would sit)."""

    reached: list = []

    def do_POST(self):  # noqa: N802
        if self.path == "/internal":
            type(self).reached.append(("POST", self.path))
        self.send_response(302)
        self.send_header("Location", "/internal")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):  # noqa: N802
        type(self).reached.append(("GET", self.path))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_delivery_does_not_follow_redirects(org_a):
    """The address check covers the URL saved, not where a redirect points: a receiver that
    redirects (to an internal address, say) fails the delivery and the redirect is not
    followed."""
    from chargeback.budgets.channels import DeliveryFailed, post_webhook

    _Redirector.reached = []
    server = HTTPServer(("127.0.0.1", 0), _Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        with scopes_disabled():
            unit = BusinessUnit.objects.get(organization=org_a, code="CENTRAL")
            alert = Alert.objects.create(organization=org_a, unit=unit, month="2026-10",
                                         kind="threshold", threshold=50, spend=Decimal(1),
                                         budget=Decimal(2), forecast=Decimal(2))  # fmt: skip
        hook = Webhook(organization=org_a, name="ops", url=url, secret="s")
        with pytest.raises(DeliveryFailed, match="HTTP 302") as failed:
            post_webhook(alert, hook)
    finally:
        server.shutdown()
        server.server_close()
    assert failed.value.code == 302
    assert _Redirector.reached == []
