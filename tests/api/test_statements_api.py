"""The statements API: list (filters, pagination), detail with lines, lines, PDF and CSV;
scoped to the organisation and, for a team lead, to its units; drafts only for finance and
admins. And the OpenAPI schema still builds without warnings.

September 2026 in Alpha at $1 per 1M tokens, the DESIGN policy (Experimental: 50% markup,
15% platform fee): SALES-EU 2M -> $3.30, SALES-DE 1M -> $1.65, SUPPORT 4M -> $6.60, and
the central bucket's statement (always drafted) at $0.00."""

from __future__ import annotations

import csv as csv_module
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chargeback.allocation.policy import parse_policy
from chargeback.billing.close import draft_statements, issue_statements
from chargeback.billing.documents import CSV_COLUMNS
from chargeback.billing.models import Statement
from chargeback.billing.pdf import statement_html, store_pdf
from chargeback.billing.policy_versions import save_policy
from chargeback.calendar import Period
from chargeback.pricing.books import import_prices, parse_prices
from chargeback.tenancy.scoping import within
from tests.usage.conftest import HEADER, event, ingest

SEP = Period.parse("2026-09")
PRICES = HEADER + "internal,flat,2026-01-01,1,1,,,,,,USD,test price,2026-01-01\n"
POLICY = {
    "effective_from": "2026-08",
    "tiers": [
        {"name": "Experimental", "up_to_tokens": 10_000_000, "markup": "0.50"},
        {"name": "Standard", "up_to_tokens": None, "markup": "0.20"},
    ],
    "platform_fee": {"percent": "0.15", "fixed_per_unit": "0.00"},
}
UNIT_ERROR = "Not a unit code (at most 50 characters, no control characters)."
TOTALS = {"CENTRAL": "0.00", "SALES-EU": "3.30", "SALES-DE": "1.65", "SUPPORT": "6.60"}


def _ev(rid: str, team: str, millions: int) -> dict:
    return event(
        rid,
        occurred_at="2026-09-10T08:00:00Z",
        provider="internal",
        model="flat",
        input_tokens=millions * 1_000_000,
        output_tokens=0,
        tags={"team": team},
    )


@pytest.fixture
def drafted(org_a, unit_tree, time_machine):
    time_machine.move_to(dt.datetime(2026, 10, 6, 10, 0, tzinfo=dt.UTC), tick=False)
    with within(org_a):
        import_prices(org_a, parse_prices(PRICES), actor="test", label="flat")
        save_policy(organization=org_a, policy=parse_policy(POLICY), actor="test")
    unit_tree["de"].billing_mode = "chargeback"
    unit_tree["de"].save()
    ingest(org_a, [_ev("eu", "SALES-EU", 2), _ev("de", "SALES-DE", 1), _ev("sup", "SUPPORT", 4)])
    with within(org_a):
        draft_statements(org_a, SEP)
    return org_a


@pytest.fixture
def issued(drafted):
    with within(drafted):
        issue_statements(drafted, SEP)
    return drafted


def url(name: str, org: str = "alpha", **kwargs) -> str:
    return reverse(f"api:{name}", kwargs={"org_slug": org, **kwargs})


def _id(org, code: str) -> int:
    with within(org):
        return Statement.objects.get(organization=org, unit__code=code).pk


def test_finance_lists_every_statement_with_totals_and_links(client_for, finance, drafted):
    response = client_for(finance).get(url("statement-list"))
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 4
    items = {s["unit"]: s for s in data["results"]}
    assert {code: s["total"] for code, s in items.items()} == TOTALS
    eu = items["SALES-EU"]
    assert (eu["status"], eu["mode"], eu["period"], eu["currency"]) == (
        "draft",
        "showback",
        "2026-09",
        "USD",
    )
    assert items["SALES-DE"]["mode"] == "chargeback"
    assert "lines" not in eu
    assert eu["url"] == f"http://testserver{url('statement-detail', statement_id=eu['id'])}"
    assert eu["pdf_url"].endswith(f"/statements/{eu['id']}/pdf/")


def test_filters_and_pagination(client_for, finance, drafted):
    client = client_for(finance)

    def units(**params) -> list[str]:
        response = client.get(url("statement-list"), params)
        assert response.status_code == 200, response.json()
        return sorted(s["unit"] for s in response.json()["results"])

    assert units(period="2026-09") == ["CENTRAL", "SALES-DE", "SALES-EU", "SUPPORT"]
    assert units(period="2026-08") == []
    assert units(mode="chargeback") == ["SALES-DE"]
    assert units(status="issued") == []
    assert units(unit="SUPPORT") == ["SUPPORT"]
    assert units(unit="NOPE") == []
    page = client.get(url("statement-list"), {"limit": 3, "offset": 3}).json()
    assert (page["count"], len(page["results"]), page["next"]) == (4, 1, None)


def test_list_queries_do_not_grow_with_statements(client_for, finance, drafted):
    client = client_for(finance)

    def queries(limit: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url("statement-list"), {"limit": limit})
        assert len(response.json()["results"]) == limit
        return len(ctx.captured_queries)

    assert queries(1) == queries(3)


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"period": "2026-13"}, {"period": ['"2026-13" is not a month (YYYY-MM).']}),
        ({"mode": "x"}, {"mode": ['"x" is not one of showback, chargeback.']}),
        ({"status": "paid"}, {"status": ['"paid" is not one of draft, issued, final.']}),
        ({"period": "0000-01"}, {"period": ['"0000-01" is not a month (YYYY-MM).']}),
        (
            {"period": "\uff12\uff10\uff12\uff16-10"},
            {"period": ['"\uff12\uff10\uff12\uff16-10" is not a month (YYYY-MM).']},
        ),
        *[({"unit": bad}, {"unit": [UNIT_ERROR]}) for bad in ("a\x00b", "x" * 51, "tab\there")],
    ],
)
def test_bad_filters_are_400_naming_the_field(client_for, finance, drafted, params, errors):
    response = client_for(finance).get(url("statement-list"), params)
    assert (response.status_code, response.json()) == (400, errors)


def test_detail_has_its_lines_summing_to_the_total(client_for, finance, drafted):
    statement_id = _id(drafted, "SALES-EU")
    data = client_for(finance).get(url("statement-detail", statement_id=statement_id)).json()
    assert [(x["kind"], x["amount"]) for x in data["lines"]] == [
        ("usage", "2.00"),
        ("markup", "1.00"),
        ("platform_fee", "0.30"),
    ]
    assert sum(Decimal(x["amount"]) for x in data["lines"]) == Decimal(data["total"])
    assert (data["number"], data["tier"]) == ("ALPHA-2026-09-0003", "Experimental")
    lines = client_for(finance).get(url("statement-lines", statement_id=statement_id)).json()
    assert lines["count"] == 3
    assert lines["results"] == data["lines"]


def test_csv_and_pdf_downloads(client_for, finance, issued):
    client = client_for(finance)
    with within(issued):
        statement = Statement.objects.get(organization=issued, unit__code="SUPPORT")
    csv = client.get(url("statement-csv", statement_id=statement.pk))
    assert csv.status_code == 200
    assert csv["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="{statement.number}.csv"' in csv["Content-Disposition"]
    rows = list(csv_module.DictReader(io.StringIO(csv.content.decode())))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [(r["kind"], r["amount"]) for r in rows] == [
        ("usage", "4.00"),
        ("markup", "2.00"),
        ("platform_fee", "0.60"),
    ]
    # Not rendered yet (the task runs after commit): rendered now.
    pdf = client.get(url("statement-pdf", statement_id=statement.pk), HTTP_ACCEPT="application/pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    # Once stored, the stored file is served.
    with within(issued):
        store_pdf(statement)
    statement.refresh_from_db()
    stored = client.get(url("statement-pdf", statement_id=statement.pk))
    with statement.pdf.open("rb") as fh:
        assert b"".join(stored.streaming_content) == fh.read()
    assert f'filename="{statement.number}.pdf"' in stored["Content-Disposition"]


def _lead_ids(org) -> tuple[set[int], set[int]]:
    mine = {_id(org, "SALES-EU"), _id(org, "SALES-DE")}
    return mine, {_id(org, "SUPPORT"), _id(org, "CENTRAL")}


def test_team_lead_sees_only_its_units_issued_statements(client_for, team_lead, drafted):
    client = client_for(team_lead)
    assert client.get(url("statement-list")).json()["count"] == 0  # drafts are not shown
    mine, theirs = _lead_ids(drafted)
    for statement_id in mine:
        assert client.get(url("statement-detail", statement_id=statement_id)).status_code == 404
    with within(drafted):
        issue_statements(drafted, SEP)
    listed = client.get(url("statement-list")).json()["results"]
    assert {s["id"] for s in listed} == mine
    assert {s["unit"] for s in listed} == {"SALES-EU", "SALES-DE"}
    assert client.get(url("statement-list"), {"unit": "SUPPORT"}).json()["count"] == 0
    for statement_id in theirs:
        for name in ("statement-detail", "statement-lines", "statement-pdf", "statement-csv"):
            response = client.get(url(name, statement_id=statement_id))
            assert response.status_code == 404, name
            assert b"SUPPORT" not in response.content
    for statement_id in mine:
        assert client.get(url("statement-csv", statement_id=statement_id)).status_code == 200


def test_viewer_sees_every_unit_but_no_drafts(client_for, viewer, drafted):
    client = client_for(viewer)
    assert client.get(url("statement-list")).json()["count"] == 0
    with within(drafted):
        issue_statements(drafted, SEP)
    assert client.get(url("statement-list")).json()["count"] == 4


def test_foreign_org_and_ids_are_404_and_anonymous_is_refused(
    client, client_for, finance, drafted, org_b
):
    from tests.test_isolation import _foreign_statement

    foreign = _foreign_statement(org_b)
    assert client.get(url("statement-list")).status_code == 401
    client = client_for(finance)
    assert client.get(url("statement-list", org="bravo")).status_code == 404
    for name in ("statement-detail", "statement-lines", "statement-pdf", "statement-csv"):
        response = client.get(url(name, statement_id=foreign.pk))
        assert response.status_code == 404, name
        assert b"BRAVO" not in response.content
    assert all(s["unit"] != "BSECRET" for s in client.get(url("statement-list")).json()["results"])


def test_schema_builds_without_warnings(db):
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = out.getvalue()
    for path in (
        "/api/v1/o/{org_slug}/statements/:",
        "/api/v1/o/{org_slug}/statements/{statement_id}/pdf/:",
        "/api/v1/outcomes:",
    ):
        assert path in schema


def test_an_issued_statement_prints_its_unit_as_it_was_at_issue(client_for, finance, issued):
    """Renaming a unit or handing it to another owner after the issue changes none of what its
    statements print: API, CSV, page and PDF (issue 15, finding 7)."""
    with within(issued):
        statement = Statement.objects.get(organization=issued, unit__code="SUPPORT")
        unit = statement.unit
        old = (unit.code, unit.name, unit.owner_email)
        unit.name, unit.owner_email = "Renamed Support", "new.owner@alpha.example"
        unit.save()
        statement = Statement.objects.select_related("organization", "period", "unit").get(
            pk=statement.pk
        )
        html = statement_html(statement)
    client = client_for(finance)
    data = client.get(url("statement-detail", statement_id=statement.pk)).json()
    assert (data["unit"], data["unit_name"]) == old[:2]
    listed = client.get(url("statement-list")).json()["results"]
    assert [s["unit_name"] for s in listed if s["id"] == statement.pk] == [old[1]]
    csv = client.get(url("statement-csv", statement_id=statement.pk)).content.decode()
    rows = csv_module.DictReader(io.StringIO(csv))
    assert {(r["cost_center"], r["unit"]) for r in rows} == {old[:2]}
    page = client.get(
        reverse(
            "billing:statement-detail", kwargs={"org_slug": "alpha", "statement_id": statement.pk}
        )
    ).content.decode()
    for text in (page, html):
        assert old[1] in text and old[2] in text
        assert "Renamed Support" not in text and "new.owner@alpha.example" not in text


def test_a_unit_renamed_between_draft_and_issue_is_printed_as_issued(drafted):
    with within(drafted):
        statement = Statement.objects.get(organization=drafted, unit__code="SALES-EU")
        statement.unit.name = "Sales Europe (renamed)"
        statement.unit.save()
        issue_statements(drafted, SEP)
        statement.refresh_from_db()
    assert (statement.status, statement.unit_name) == ("issued", "Sales Europe (renamed)")
