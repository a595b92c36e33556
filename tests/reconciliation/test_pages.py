"""The invoice pages and the month's reconciliation, through the client: finance only."""

from __future__ import annotations

import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled

from chargeback.reconciliation.models import InvoiceLine, ProviderInvoice
from chargeback.tenancy.models import Role
from chargeback.tenancy.scoping import within
from tests.conftest import _member
from tests.reconciliation.conftest import INVOICE


def _url(org, name, **kw):
    return reverse(f"reconciliation:{name}", kwargs={"org_slug": org.slug, **kw})


def test_upload_preview_confirm_then_the_reconciliation_page(client, metered):
    finance = _member(metered, Role.FINANCE, "fin@alpha.example")
    client.force_login(finance.user)
    upload = SimpleUploadedFile("oct.csv", INVOICE.encode(), content_type="text/csv")
    preview = client.post(_url(metered, "invoice-upload"),
                          {"period": "2026-10", "format": "csv", "file": upload})  # fmt: skip
    assert preview.status_code == 200
    assert b"5 lines, $8.70 in all. Nothing has been written yet." in preview.content
    with within(metered):
        assert not ProviderInvoice.objects.exists()
    confirm = preview.context["confirm"].initial
    done = client.post(_url(metered, "invoice-upload"), confirm)
    assert done.status_code == 302 and done["Location"].endswith("?period=2026-10")
    with within(metered):
        invoice = ProviderInvoice.objects.get()
        assert (invoice.provider, str(invoice.total)) == ("internal", "8.700000000000")
        assert InvoiceLine.objects.count() == 5
    page = client.get(done["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert "$6.90" in text and "$8.70" in text and "$1.80" in text
    assert "Alias lag" in text and "figure-waterfall" in text
    bars = page.context["figure"]["data"][0]
    assert bars["type"] == "bar" and bars["x"][0] == "Metered" and bars["x"][-1] == "Billed"
    # the floating bars climb from metered (6.90) to exactly where the billed bar ends (8.70)
    assert (bars["base"][0], bars["y"][0]) == (0, 6.9) and bars["base"][1] == 6.9
    assert round(bars["base"][-2] + bars["y"][-2], 2) == 8.7 == bars["y"][-1]
    csv = client.get(done["Location"] + "&csv=causes")
    assert csv["Content-Type"].startswith("text/csv")
    assert "alias_lag,,3.00" in csv.content.decode()
    by_class = client.get(done["Location"] + "&csv=token_class").content.decode()
    assert by_class.splitlines()[0] == "Token class,metered,billed,variance,variance_pct"
    assert client.get(_url(metered, "invoice-list")).status_code == 200
    detail = client.get(_url(metered, "invoice-detail", invoice_id=invoice.pk))
    assert b"mystery-1" in detail.content


def test_bad_input_is_a_named_error_and_nothing_is_written(client, metered):
    finance = _member(metered, Role.FINANCE, "fin@alpha.example")
    client.force_login(finance.user)
    bad = INVOICE + "internal,flat,output,-1,1.00,USD\n"
    preview = client.post(_url(metered, "invoice-upload"),
                          {"period": "2026-10", "format": "csv", "lines": bad})  # fmt: skip
    assert b"line 7: quantity: must not be negative" in preview.content
    assert b"nothing will be imported" in preview.content
    page = client.get(_url(metered, "reconciliation") + "?period=2026-13")
    assert page.status_code == 400 and b"period: " in page.content
    assert client.get(_url(metered, "reconciliation") + "?csv=nope").status_code == 404
    missing = client.post(_url(metered, "invoice-upload"), {"period": "2026-10", "format": "csv"})
    assert missing.status_code == 400 and b"Choose a file or type the lines." in missing.content
    with within(metered):
        assert not ProviderInvoice.objects.exists()


def test_team_leads_and_viewers_may_not_open_the_pages(client, metered):
    for role in (Role.TEAM_LEAD, Role.VIEWER):
        member = _member(metered, role, f"{role}@alpha.example")
        client.force_login(member.user)
        for name in ("invoice-list", "invoice-upload", "reconciliation"):
            assert client.get(_url(metered, name)).status_code == 403


def _invoices(org, providers):
    with scopes_disabled():  # building data, as the fixtures do
        for n, provider in enumerate(providers, start=1):
            invoice = ProviderInvoice.objects.create(
                organization=org, provider=provider, month="2026-10-01", currency="USD",
                source="manual", total=n, created_by="fin@alpha.example",
            )  # fmt: skip
            InvoiceLine.objects.bulk_create(
                InvoiceLine(organization=org, invoice=invoice, position=p, provider=provider,
                            token_class="input", amount=1, currency="USD")
                for p in range(1, n + 1)
            )  # fmt: skip


def test_the_invoice_list_counts_lines_without_a_query_per_invoice(client, org_a, finance):
    client.force_login(finance.user)
    _invoices(org_a, ["openai"])
    with CaptureQueriesContext(connection) as one:
        first = client.get(_url(org_a, "invoice-list"))
    _invoices(org_a, ["anthropic", "google", "mistral", "cohere"])
    with CaptureQueriesContext(connection) as five:
        page = client.get(_url(org_a, "invoice-list"))
    assert first.status_code == page.status_code == 200
    assert len(five.captured_queries) == len(one.captured_queries)
    rows = re.findall(r'invoice_id=\d+|<td class="num">(\d+)</td>', page.content.decode())
    counts = sorted(int(c) for c in rows if c)
    assert counts == [1, 1, 2, 3, 4]  # openai; then anthropic, google, mistral, cohere
