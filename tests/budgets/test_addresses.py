"""Alert webhooks go to public addresses only: a host that resolves to a loopback, private,
link-local or reserved address is refused with a field error, and not posted to. A delivery
connects to the address its check resolved (a rebinding name cannot change it in between)."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django_scopes import scopes_disabled

from chargeback.budgets import addresses
from chargeback.budgets.addresses import internal_problem
from chargeback.budgets.channels import DeliveryFailed, post_webhook
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
    "http://[::7f00:1]/hook",  # IPv4-compatible 127.0.0.1
    "http://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of 169.254.169.254 (cloud metadata)
    "http://[2002:7f00:1::1]/hook",  # 6to4 of 127.0.0.1
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
    assert internal_problem("https://[64:ff9b::5db8:d70e]/hook") is None  # NAT64 of a public one


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
    hook = Webhook(organization=org_a, name="ops", url="http://127.0.0.1:9/hook", secret="s")
    with pytest.raises(DeliveryFailed, match="refused: the host"):
        post_webhook(None, hook)


@pytest.fixture
def alert(org_a):
    with scopes_disabled():
        unit = BusinessUnit.objects.get(organization=org_a, code="CENTRAL")
        return Alert.objects.create(organization=org_a, unit=unit, month="2026-10",
                                    kind="threshold", threshold=50, spend=Decimal(1),
                                    budget=Decimal(2), forecast=Decimal(2))  # fmt: skip


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


def test_a_delivery_does_not_follow_redirects(org_a, alert):
    """The address check covers the URL saved, not where a redirect points: a receiver that
    redirects (to an internal address, say) fails the delivery and the redirect is not
    followed."""
    _Redirector.reached = []
    server = HTTPServer(("127.0.0.1", 0), _Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        hook = Webhook(organization=org_a, name="ops", url=url, secret="s")
        with pytest.raises(DeliveryFailed, match="HTTP 302") as failed:
            post_webhook(alert, hook)
    finally:
        server.shutdown()
        server.server_close()
    assert failed.value.code == 302
    assert _Redirector.reached == []


class _Recorder(BaseHTTPRequestHandler):
    """A webhook receiver that answers 200 and records which of its addresses was posted to,
    with the path and the Host header."""

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((self.server.server_address[0], self.path, self.headers["Host"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _serve(address: str, port: int, tls: ssl.SSLContext | None = None) -> HTTPServer:
    server = HTTPServer((address, port), _Recorder)
    server.posts = []
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def receivers():
    """Receivers on 127.0.0.1 and 127.0.0.2, on one port (a URL names the port, not the
    address): the two answers a rebinding name gives."""
    first = _serve("127.0.0.1", 0)
    second = _serve("127.0.0.2", first.server_address[1])
    yield first, second
    for server in (first, second):
        server.shutdown()
        server.server_close()


@pytest.fixture
def dns(monkeypatch):
    """The resolver boundary: `dns.answers[name]` lists the answers a name gives, one per
    lookup (the last repeats); `dns.asked` records the lookups. Other names resolve as usual."""
    real = socket.getaddrinfo

    class Dns:
        answers: dict = {}
        asked: list = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in Dns.answers:
            return real(host, port, *args, **kwargs)
        Dns.asked.append(host)
        answers = Dns.answers[host]
        addresses = answers[min(Dns.asked.count(host), len(answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))
                for address in addresses]  # fmt: skip

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return Dns


def test_a_delivery_connects_to_the_address_it_checked(
    strict, org_a, alert, receivers, dns, monkeypatch
):
    """DNS rebinding: a name answers a checked address to the first lookup and an internal one
    to any later lookup. The post reaches the checked address, and the name is looked up once.
    (No public address can be served here, so 127.0.0.1 stands in for one: the check counts it
    as public, and every other address as it does in production.)"""
    rule = addresses.internal_address
    monkeypatch.setattr(
        addresses, "internal_address", lambda ip: None if ip == "127.0.0.1" else rule(ip)
    )
    first, second = receivers
    port = first.server_address[1]
    dns.answers["hooks.rebind.test"] = [["127.0.0.1"], ["127.0.0.2"]]
    url = f"http://hooks.rebind.test:{port}/hook"
    assert internal_problem(url) is None  # the check passes the first answer...
    assert "resolves to 127.0.0.2" in internal_problem(url)  # ...and would refuse the later one
    dns.asked.clear()
    hook = Webhook(organization=org_a, name="ops", url=url, secret="s")
    assert post_webhook(alert, hook) == 200
    assert first.posts == [("127.0.0.1", "/hook", f"hooks.rebind.test:{port}")]
    assert second.posts == []
    assert dns.asked == ["hooks.rebind.test"]


def test_a_host_with_any_internal_address_is_refused(strict, org_a, alert, receivers, dns):
    """A name with a public and a loopback address is refused, when saved and when delivered,
    and nothing is posted (neither to the loopback nor by trying the public one first)."""
    first, _second = receivers
    dns.answers["hooks.mixed.test"] = [["93.184.215.14", "127.0.0.1"]]
    url = f"http://hooks.mixed.test:{first.server_address[1]}/hook"
    assert "resolves to 127.0.0.1, an internal address" in internal_problem(url)
    hook = Webhook(organization=org_a, name="ops", url=url, secret="s")
    with pytest.raises(DeliveryFailed, match="refused: .* resolves to 127.0.0.1"):
        post_webhook(alert, hook)
    assert first.posts == []


@pytest.fixture
def certificate(tmp_path, monkeypatch):
    """A self-signed certificate for hooks.rebind.test, trusted by the default TLS context
    (through SSL_CERT_FILE) for this test; returns a server context serving it."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=hooks.rebind.test", "-addext", "subjectAltName=DNS:hooks.rebind.test",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    server_tls.names = []
    server_tls.sni_callback = lambda _sock, name, _ctx: server_tls.names.append(name)
    return server_tls


def test_https_names_the_host_while_connecting_to_the_checked_address(
    org_a, alert, certificate, dns
):
    """Over https the pinned connection still sends the URL's host as the SNI name, and the
    certificate is verified for it: a certificate for another name fails the delivery."""
    server = _serve("127.0.0.1", 0, tls=certificate)
    port = server.server_address[1]
    dns.answers["hooks.rebind.test"] = [["127.0.0.1"], ["127.0.0.2"]]
    dns.answers["other.rebind.test"] = [["127.0.0.1"]]
    try:
        hook = Webhook(organization=org_a, name="ops", secret="s",
                       url=f"https://hooks.rebind.test:{port}/hook")  # fmt: skip
        assert post_webhook(alert, hook) == 200
        hook.url = f"https://other.rebind.test:{port}/hook"
        with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED"):
            post_webhook(alert, hook)
    finally:
        server.shutdown()
        server.server_close()
    assert server.posts == [("127.0.0.1", "/hook", f"hooks.rebind.test:{port}")]
    assert certificate.names == ["hooks.rebind.test", "other.rebind.test"]
