"""Formula injection: a corpus of spreadsheet payloads (=, +, -, @, tab, CR, LF, |, % and
DDE-style ones) flows into the product's one CSV writer (chargeback.safecsv) and, placed in
unit names, service and model names, tags, reasons, request ids and invoice lines, through every
CSV the product emits as a user reaches it: export_events, the dashboards' tables, the spend
command, statements (page, API, the period's lines), a line's events, wallet ledgers, gateway
decisions, the reconciliation tables, the disputes report, the price book, the events API and
a prepared export. No cell may start with a character a spreadsheet reads as a formula. Every
CSV writer in chargeback/ goes through safecsv."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django_scopes import scopes_disabled

from chargeback import safecsv
from chargeback.billing.close import draft_statements, issue_statements
from chargeback.billing.models import Statement
from chargeback.pricing.books import import_prices, parse_prices
from chargeback.reconciliation.invoices import import_invoice, read_invoice_file
from chargeback.tenancy.models import Role
from chargeback.tenancy.scoping import within
from chargeback.units.models import BusinessUnit
from chargeback.wallets.accounts import open_wallet
from chargeback.wallets.ledger import post_entry
from tests import factories as f
from tests.billing.test_close import OCT, worked  # noqa: F401 (fixture)
from tests.conftest import _member
from tests.gateway.conftest import call, gw  # noqa: F401 (fixtures)
from tests.reconciliation.conftest import INVOICE, metered  # noqa: F401 (fixture)
from tests.usage.conftest import HEADER, event, ingest, priced_org  # noqa: F401 (fixture)

PAYLOADS = (
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(1)",
    "\t=1",
    "\r=1",
    '=HYPERLINK("http://evil.example","x")',
    "|calc",
    "%0A=1",
    "ok\r=2+3",
    "ok\n@SUM(1)",
    # DDE and friends
    '=DDE("cmd";"/C calc";"!A0")A0',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "=1+1;=cmd|'/c notepad'!'A1'",
    "\t@SUM(1)",
    "\r+1",
)
DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")
NUMBER = re.compile(r"-?[0-9][0-9,.]*")
ROOT = Path(__file__).resolve().parent.parent / "chargeback"


def unsafe_cells(text: str) -> list[str]:
    return [
        cell
        for row in csv.reader(io.StringIO(text, newline=""))
        for cell in row
        if cell.startswith(DANGEROUS) and not NUMBER.fullmatch(cell)
    ]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_writers_neutralise_every_payload(payload):
    out = io.StringIO()
    safecsv.writer(out, lineterminator="\n").writerow([payload, "-12.50", "plain"])
    dict_out = io.StringIO()
    w = safecsv.DictWriter(dict_out, fieldnames=["a", "b"], lineterminator="\n")
    w.writeheader()
    w.writerow({"a": payload, "b": "-3"})
    for text in (out.getvalue(), dict_out.getvalue()):
        assert unsafe_cells(text) == [], text
        assert "'" in text or not payload.startswith(DANGEROUS)  # escaped, not dropped
        assert len(list(csv.reader(io.StringIO(text, newline="")))) == 1 + text.startswith("a,")
    assert next(csv.reader(io.StringIO(out.getvalue())))[1:] == ["-12.50", "plain"]


def test_every_csv_writer_in_the_product_is_the_formula_safe_one():
    writes = re.compile(r"\bcsv\.(writer|DictWriter)\(")
    offenders = []
    for path in ROOT.rglob("*.py"):
        text = path.read_text()
        rel = path.relative_to(ROOT).as_posix()
        if rel == "safecsv.py":
            continue
        if "from defusedcsv" in text:
            offenders.append(f"{rel}: defusedcsv directly (use chargeback.safecsv)")
        if writes.search(text) and "from chargeback import safecsv as csv" not in text:
            offenders.append(f"{rel}: a plain csv writer")
    assert offenders == []


@pytest.fixture
def poisoned(metered):  # noqa: F811 (fixture)
    """The metered organisation, unit SUP named with a payload, events tagged with payloads."""
    with scopes_disabled():
        sup = metered.units_map["SUP"]
        sup.name = PAYLOADS[0]
        sup.save(update_fields=["name"])
    events = [
        event(
            f"evil-{i}",
            occurred_at="2026-10-09T10:00:00Z",
            provider="internal",
            model="flat",
            tags={
                "team": "SUP",
                "workflow": payload,
                "prompt_template": payload,
                "environment": payload,
            },
        )  # fmt: skip
        for i, payload in enumerate(PAYLOADS)
    ]
    ingest(metered, events)
    return metered


def _export(org, tmp_path, *args) -> str:
    path = tmp_path / "out.csv"
    call_command("export_events", "--org", org.slug, "--since", "2026-10-01",
                 "--output", str(path), *args, stdout=io.StringIO())  # fmt: skip
    return path.read_text()


@pytest.mark.parametrize(
    "args", [("--format", "csv"), ("--format", "focus"), ("--format", "focus",
                                                          "--focus-version", "1.0")]
)  # fmt: skip
def test_export_events_is_formula_safe(poisoned, tmp_path, args):
    text = _export(poisoned, tmp_path, *args)
    assert unsafe_cells(text) == []
    marker = "'=cmd" if args[1] == "focus" else "'=HYPERLINK"  # the payload is there, escaped
    assert marker in text


def test_spend_command_csv_is_formula_safe(poisoned):
    out = io.StringIO()
    call_command("spend", "--org", poisoned.slug, "--period", "2026-10", "--format", "csv",
                 stdout=out)  # fmt: skip
    assert "'=cmd" in out.getvalue()
    assert unsafe_cells(out.getvalue()) == []


@pytest.mark.parametrize("fmt", ["rounded", "exact"])
def test_dashboard_tables_are_formula_safe(poisoned, client_for, admin, fmt):
    c = client_for(admin)
    seen = ""
    for key in ("units", "models", "services"):
        url = f"/o/{poisoned.slug}/?csv={key}&format={fmt}&period=custom&from=2026-10-01&to=2026-10-31"
        response = c.get(url)
        assert response.status_code == 200, (key, response.status_code)
        text = b"".join(response).decode() if response.streaming else response.content.decode()
        assert unsafe_cells(text) == [], key
        seen += text
    assert "'=cmd" in seen


# Every CSV as users reach it ------------------------------------------------------------------


def _body(response) -> str:
    assert response.status_code == 200, (response.status_code, response.content[:300])
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def _csv_text(rows: list[list[str]]) -> str:
    """An input file (an invoice, a price list) carrying the payloads as they are."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)  # quotes a cell with a CR or LF
    return out.getvalue()


def _assert_safe(text: str, *markers: str) -> None:
    """No unsafe cell, and the payloads are there (escaped), not dropped."""
    assert unsafe_cells(text) == [], text[:2000]
    for marker in markers:
        assert marker in text, (marker, text[:2000])


@pytest.fixture
def books(worked, admin):  # noqa: F811 (fixture)
    """October issued for the worked example, with payloads in the unit names (before the
    statements snapshot them) and in the service, workflow and prompt of SUP's extra events."""
    with scopes_disabled():
        for code, payload in (("SUP", PAYLOADS[0]), ("SALES", PAYLOADS[11]), ("AGENT", "@SUM(1)")):
            BusinessUnit.objects.filter(organization=worked, code=code).update(name=payload)
        BusinessUnit.objects.filter(organization=worked, code__in=["SUP", "SALES"]).update(
            billing_mode="chargeback"
        )
    ingest(worked, [
        event(f"evil-{i}", occurred_at="2026-10-09T10:00:00Z", provider="internal",
              model="flat", tags={"team": "SUP", "service": payload, "workflow": payload,
                                   "prompt_template": payload})
        for i, payload in enumerate(PAYLOADS)
    ])  # fmt: skip
    with within(worked):
        draft_statements(worked, OCT)
        issue_statements(worked, OCT, today=dt.date(2026, 11, 2))
    return worked


def test_statement_csvs_are_formula_safe(books, client_for, admin):
    c = client_for(admin)
    with within(books):
        statements = list(Statement.objects.select_related("unit", "period"))
        sup = next(s for s in statements if s.unit.code == "SUP")
        usage = sup.lines.filter(kind="usage").first()
    seen = ""
    for s in statements:
        seen += _body(c.get(f"/o/{books.slug}/statements/{s.pk}/csv/"))
        seen += _body(c.get(f"/api/v1/o/{books.slug}/statements/{s.pk}/csv/"))
    seen += _body(c.get(f"/o/{books.slug}/billing/periods/{sup.period_id}/lines.csv"))
    _assert_safe(seen, "'=cmd", "'@SUM(1)")
    events = _body(c.get(f"/o/{books.slug}/statements/{sup.pk}/lines/{usage.pk}/events.csv"))
    _assert_safe(events, "'=cmd", "'+cmd", "'=DDE(")


def test_the_disputes_report_is_formula_safe(books, time_machine):
    time_machine.move_to("2026-11-03T10:00:00Z")  # in the review window
    with within(books):
        sup = Statement.objects.get(unit__code="SUP")
    call_command("disputes", "--org", books.slug, "open", "--statement", sup.number,
                 "--amount", "1.00", "--reason", "other", "--by", "admin@alpha.example",
                 "--text", PAYLOADS[0], stdout=io.StringIO())  # fmt: skip
    out = io.StringIO()
    call_command("disputes", "--org", books.slug, "report", "--period", "2026-10",
                 "--format", "csv", stdout=out)  # fmt: skip
    assert out.getvalue().startswith("reason,outcome,")
    _assert_safe(out.getvalue())


def test_wallet_ledgers_are_formula_safe(org_a, admin, client_for):
    with scopes_disabled():
        unit = f.BusinessUnitFactory(organization=org_a, code="W1", name=PAYLOADS[0])
        wallet = open_wallet(organization=org_a, unit=unit, kind="team", actor="test")
    with within(org_a):
        for i, payload in enumerate(PAYLOADS):
            post_entry(wallet=wallet, type="funding", amount="1.00", reason=payload,
                       actor=PAYLOADS[1], key=f"k{i}")  # fmt: skip
    text = _body(client_for(admin).get(f"/o/{org_a.slug}/wallets/{wallet.pk}/ledger.csv"))
    _assert_safe(text, "'=cmd", "'+1+1", "'=DDE(")


def test_gateway_decisions_are_formula_safe(gw, call, admin, client_for):  # noqa: F811
    for i, payload in enumerate(PAYLOADS):
        status, _ = call("authorize", {"gateway_key_id": payload if i % 2 else "gk-sup",
                                       "request_id": payload, "estimated_cost": "0.01"})  # fmt: skip
        assert status in (200, 400)
    text = _body(client_for(admin).get(f"/o/{gw['org'].slug}/gateway/decisions.csv"))
    _assert_safe(text, "'=cmd", "'@SUM(1)")


def test_reconciliation_tables_are_formula_safe(metered, client_for):  # noqa: F811 (fixture)
    finance = _member(metered, Role.FINANCE, "fin@alpha.example")
    text = INVOICE + _csv_text(
        [[p, p, "input", "1000", f"0.0{i + 1}", "USD"] for i, p in enumerate(PAYLOADS)]
    )
    with within(metered):
        lines = read_invoice_file(metered, OCT, text, "csv")
        import_invoice(organization=metered, period=OCT, lines=lines, source="csv",
                       actor="test", filename="evil.csv")  # fmt: skip
    c = client_for(finance)
    seen = ""
    for table in ("causes", "provider", "family", "token_class", "day"):
        seen += _body(c.get(f"/o/{metered.slug}/reconciliation/?period=2026-10&csv={table}"))
    # providers are read as slugs (cmd-c-calc-a0); models as given, after their provider
    _assert_safe(seen, "/=cmd|' /c calc'!a0", "/+1+1", "cmd-c-calc-a0")


def test_the_price_book_is_formula_safe(org_a, admin, client_for):
    rows = _csv_text(
        [["openai", f"{p}-{i}", "2026-01-01", "1", "2", "", "", "", "", "", "USD", p,
          "2026-01-01"] for i, p in enumerate(PAYLOADS)]
    )  # fmt: skip
    with within(org_a):
        import_prices(org_a, parse_prices(HEADER + rows), actor="test", label=PAYLOADS[0])
    # The browser's download is for spreadsheets. (`export_prices` writes the machine price
    # file, read back by import_prices as it is: its cells are the model names, unchanged.)
    text = _body(client_for(admin).get(f"/o/{org_a.slug}/prices/export/?format=csv"))
    _assert_safe(text, "'=cmd", "'+1+1")


@pytest.mark.parametrize("query", ["format=csv", "format=focus", "format=focus&focus_version=1.0"])
def test_the_events_api_is_formula_safe(poisoned, client_for, admin, query):
    c = client_for(admin)
    text = _body(c.get(f"/api/v1/o/{poisoned.slug}/events/export?since=2026-10-01&{query}"))
    _assert_safe(text, "'=cmd" if "focus" in query else "'=HYPERLINK")


def test_a_prepared_export_is_formula_safe(
    poisoned, client_for, admin, django_capture_on_commit_callbacks
):
    c = client_for(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(f"/o/{poisoned.slug}/events/export/prepare/",
                          {"period": "custom", "from": "2026-10-01", "to": "2026-10-31",
                           "format": "csv"})  # fmt: skip
    text = _body(c.get(response["Location"] + "download/"))
    _assert_safe(text, "'=HYPERLINK", "'=DDE(")
