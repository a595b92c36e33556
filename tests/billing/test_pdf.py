"""Statement PDFs: WeasyPrint renders a statement with its lines, the document carries the
statement's number and total, and storing the PDF attaches the file without touching the
statement's content or checksum.

No PDF text extractor is installed here (no pdftotext, pypdf or pdfminer), so the text is
read from the laid-out document that WeasyPrint writes the PDF bytes from."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from weasyprint import HTML

from chargeback.allocation.policy import parse_policy
from chargeback.billing.checksums import verify
from chargeback.billing.close import draft_statements, issue_statements
from chargeback.billing.models import Statement
from chargeback.billing.pdf import render_pdf, statement_html, store_pdf
from chargeback.billing.policy_versions import save_policy
from chargeback.calendar import Period
from chargeback.pricing.books import import_prices, parse_prices
from chargeback.tenancy.scoping import within
from tests.usage.conftest import HEADER, event, ingest

OCT = Period.parse("2026-10")
# $1 per 1M input or output tokens on two models, so a unit's statement has two usage lines.
PRICES = (
    HEADER
    + "internal,flat,2026-01-01,1,1,,,,,,USD,test price,2026-01-01\n"
    + "internal,flat-large,2026-01-01,3,3,,,,,,USD,test price,2026-01-01\n"
)
POLICY = {
    "effective_from": "2026-10",
    "platform_fee": {"percent": "0.15", "fixed_per_unit": "0.00"},
    "pools": [
        {"name": "Gateway infrastructure", "source": "manual", "amount": "10.00", "basis": "spend"}
    ],
}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def statement(priced_org, media) -> Statement:
    """SUP's October draft: 4M tokens on internal/flat, 2M on internal/flat-large."""
    with within(priced_org):
        import_prices(priced_org, parse_prices(PRICES), actor="test", label="flat")
        save_policy(organization=priced_org, policy=parse_policy(POLICY), actor="test")
    ingest(
        priced_org,
        [
            event(f"sup-{i}", provider="internal", model=model, input_tokens=1_000_000,
                  output_tokens=0, occurred_at="2026-10-05T10:00:00Z", tags={"team": "SUP"})
            for i, model in enumerate(["flat"] * 4 + ["flat-large"] * 2)
        ]
        + [
            event("sales-0", provider="internal", model="flat", input_tokens=2_000_000,
                  output_tokens=0, occurred_at="2026-10-06T10:00:00Z", tags={"team": "SALES"})
        ],
    )  # fmt: skip
    with within(priced_org):
        billing = draft_statements(priced_org, OCT)
        statements = billing.statements.select_related("organization", "period", "unit")
        return statements.get(unit__code="SUP")


def _layout_text(statement: Statement) -> str:
    """The text of every page, page margins included, as WeasyPrint lays it out for the PDF."""
    document = HTML(string=statement_html(statement)).render()
    words = []
    for page in document.pages:
        for box in page._page_box.descendants():
            text = getattr(box, "text", None)
            if isinstance(text, str):
                words.append(text)
    return " ".join(words)


def test_the_pdf_renders_a_statement_with_its_lines(statement):
    # usage flat $4, usage flat-large $6, tier markup 50% $5, platform fee 15% $1.50, and
    # SUP's share of the $10 pool by spend ($10 of $12): $8.33.
    with within(statement.organization):
        assert [(x.kind, x.amount) for x in statement.lines.order_by("position")] == [
            ("usage", Decimal("4.00")),
            ("usage", Decimal("6.00")),
            ("markup", Decimal("5.00")),
            ("platform_fee", Decimal("1.50")),
            ("pool", Decimal("8.33")),
        ]
        assert statement.total == Decimal("24.83")
        data = render_pdf(statement)
        assert data.startswith(b"%PDF-")
        assert data.rstrip().endswith(b"%%EOF")
        text = _layout_text(statement)
        assert statement.number == "ALPHA-2026-10-0003"
        assert statement.number in text
        assert "$24.83" in text
        for words in (
            "Alpha Industries",
            "October 2026",
            "Support",
            "internal/flat:",
            "internal/flat-large:",
            "Pool: Gateway infrastructure",
            "SUP",
            "Evidence",
            "Disputes",
            "The dispute window opens when this statement is issued",
        ):
            assert words in text, words


def test_store_pdf_attaches_the_file_and_leaves_the_issued_statement_as_it_was(statement):
    with within(statement.organization):
        org = statement.organization
        issue_statements(org, OCT)  # the eager task stores every PDF after commit (none here)
        issued = Statement.objects.select_related("organization", "period", "unit").get(
            pk=statement.pk
        )
        content = (issued.total, issued.checksum, issued.status, issued.issued_at)
        lines = list(issued.lines.order_by("position").values_list("kind", "description", "amount"))
        assert not issued.pdf
        store_pdf(issued)
        stored = Statement.objects.get(pk=statement.pk)
        assert stored.pdf_status == "done"
        assert stored.pdf.name.endswith(f"{stored.number}.pdf")
        with stored.pdf.open("rb") as fh:
            assert fh.read(5) == b"%PDF-"
        assert (stored.total, stored.checksum, stored.status, stored.issued_at) == content
        assert list(
            stored.lines.order_by("position").values_list("kind", "description", "amount")
        ) == (lines)
        assert verify(stored)
        # Rendering again replaces the file rather than adding one.
        store_pdf(stored)
        again = Statement.objects.get(pk=statement.pk)
        folder = Path(again.pdf.path).parent
        assert [p.name for p in folder.iterdir()] == [Path(again.pdf.name).name]
        assert again.checksum == content[1]


def test_pdf_rendering_fetches_no_external_resources():
    from chargeback.billing.pdf import data_urls_only

    fetcher = data_urls_only()
    for url in ("http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"):
        with pytest.raises(ValueError, match="disallowed protocol"):
            fetcher(url)
    assert fetcher("data:text/plain;base64,aGk=").read() == b"hi"


def test_coverage_is_printed_as_a_decimal_percentage():
    from chargeback.billing.pdf import _percent

    assert _percent("0.8512") == "85.1"
    assert _percent(None) == ""


def test_a_failed_render_leaves_its_failed_status(statement, monkeypatch):
    """The task runs outside a transaction of its own, so the FAILED mark survives the raise
    (the close page offers to retry it)."""
    from chargeback.billing import pdf, tasks

    def broken(statement):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(pdf, "render_pdf", broken)
    with pytest.raises(RuntimeError):
        tasks.render_statement_pdf(statement.pk)
    statement.refresh_from_db()
    assert (statement.pdf_status, statement.pdf_error) == ("failed", "RuntimeError: no fonts")
