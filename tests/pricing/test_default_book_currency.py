"""A new organisation gets the default list prices in its own currency, or is told plainly that
none exists yet (issue 15, finding 11): never the USD book for a EUR organisation, which would
price nothing and quarantine every event as "no price"."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command
from django.test import Client

from chargeback.pricing import books
from chargeback.pricing.models import ModelPrice
from chargeback.tenancy.models import Membership, Organization
from chargeback.tenancy.scoping import within
from tests.pricing.test_books import HEADER

NOTE = "No prices in EUR yet."


def _create(*args: str) -> tuple[Organization, list[str], Client]:
    out = StringIO()
    call_command("create_org", *args, "--admin-email=boss@new.example", stdout=out)
    org = Organization.objects.get(slug=args[0].split("=", 1)[1])
    web = Client()
    web.force_login(Membership.objects.get(organization=org).user)
    return org, out.getvalue().splitlines(), web


def test_a_eur_organisation_gets_no_usd_prices_and_is_told_so(db):
    org, lines, web = _create("--slug=euro", "--name=Euro GmbH", "--currency=EUR")
    with within(org):
        assert ModelPrice.objects.filter(organization=org).count() == 0
    assert lines[-1] == (
        "warning: no prices in EUR; no default price book ships in EUR yet: import a price "
        "file in EUR (the Prices page, or import_prices --org euro FILE) before sending "
        'usage, or every event is quarantined as "no price"'
    )
    page = web.get("/o/euro/prices/").content.decode()
    assert NOTE in page
    assert "no default price book ships in EUR" in page
    assert "Import a price file in EUR" in page

    # Once prices in EUR are imported, the note goes away.
    csv = HEADER + "openai,gpt-4o-mini,2025-01-01,0.14,0.55,,,,,,EUR,manual,2025-10-01\n"
    with within(org):
        books.import_prices(org, books.parse_prices(csv), actor="test", label="EUR")
        assert books.no_prices_note(org) == ""
    assert NOTE not in web.get("/o/euro/prices/").content.decode()


def test_a_usd_organisation_gets_the_default_book_and_no_note(db):
    org, lines, web = _create("--slug=dollar", "--name=Dollar Inc", "--currency=USD")
    with within(org):
        assert ModelPrice.objects.filter(organization=org).count() > 0
    assert not any(line.startswith("warning:") for line in lines)
    assert "No prices in" not in web.get("/o/dollar/prices/").content.decode()


def test_a_default_book_in_the_organisations_currency_is_loaded_when_one_ships(
    db, tmp_path, monkeypatch
):
    usd = tmp_path / "default_prices.csv"
    usd.write_text(books.DEFAULT_BOOK.read_text())
    (tmp_path / "default_prices_eur.csv").write_text(
        HEADER
        + "openai,gpt-4o-mini,2025-01-01,0.14,0.55,,,,,,EUR,https://example.com/,2025-10-01\n"
    )
    monkeypatch.setattr(books, "DEFAULT_BOOK", usd)
    assert books.default_book("GBP") is None
    org, lines, _web = _create("--slug=euro2", "--name=Euro Two", "--currency=EUR")
    with within(org):
        assert list(
            ModelPrice.objects.filter(organization=org).values_list("model", "currency")
        ) == [("gpt-4o-mini", "EUR")]
    assert not any(line.startswith("warning:") for line in lines)
