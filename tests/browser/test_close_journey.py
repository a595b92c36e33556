"""The month-end close in the browser (the issue's "Done when"): a finance user opens the seeded
month, generates the drafts, waits for them, issues them through the confirmation page and
downloads the PDFs; the PDFs' text is read back and every printed total must equal the total
computed from the `spend` command's figures and the policy. Then a team lead sees only the
statements of its units.

The policy is set for the month by the test, so the expected totals follow from it in one
line: a unit pays its usage cost + the tier markup + the platform fee percent + the fixed fee,
rounded to the cent; the central bucket pays its usage cost (DESIGN.md 6.2)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.db.models.functions import TruncMonth
from playwright.sync_api import Page, expect

from chargeback.allocation.policy import parse_policy
from chargeback.billing.models import PeriodState, Statement
from chargeback.billing.policy_versions import save_policy
from chargeback.calendar import Period, local_today
from chargeback.provisioning.demo import seed_demo
from chargeback.tenancy.scoping import within
from chargeback.usage.models import DailyUsage

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

TIERS = [  # up_to_tokens exclusive
    ("Experimental", 10_000_000, Decimal("0.50")),
    ("Standard", 100_000_000, Decimal("0.20")),
    ("Enterprise", None, Decimal("0.10")),
]
FEE_PERCENT = Decimal("0.15")
FEE_FIXED = Decimal("2.00")
CENT = Decimal("0.01")
SUPPORT_LEAD_UNITS = {"SUP", "SUP-T1", "SUP-AUTO"}
SLOW = 60_000  # ms: issuing renders every PDF in the request when tasks run eagerly


def policy(month: str) -> dict:
    return {
        "effective_from": month,
        "tier_mode": "volume",
        "tiers": [
            {"name": name, "up_to_tokens": up_to, "markup": str(markup)}
            for name, up_to, markup in TIERS
        ],
        "platform_fee": {
            "percent": str(FEE_PERCENT),
            "fixed_per_unit": str(FEE_FIXED),
            "fixed_to": "all_units",
        },
    }


def expected_totals(spend: dict, central: str, active: set[str]) -> dict[str, Decimal]:
    """Each unit's total from its `spend` figures and the policy above."""
    out = {code: FEE_FIXED for code in active if code != central}  # no usage: the fixed fee
    for unit in spend["units"]:
        cost = Decimal(unit["cost"])
        if unit["code"] == central:
            out[central] = cost.quantize(CENT, ROUND_HALF_UP)
            continue
        tokens = unit["input_tokens"] + unit["output_tokens"]
        markup = next(m for _n, up_to, m in TIERS if up_to is None or tokens < up_to)
        own = cost + cost * markup + cost * FEE_PERCENT + FEE_FIXED
        out[unit["code"]] = own.quantize(CENT, ROUND_HALF_UP)
    return out


def pdf_text(data: bytes) -> str:
    """The PDF's text, by poppler's pdftotext, else pypdf, else pdfminer.six."""
    if shutil.which("pdftotext"):
        with tempfile.NamedTemporaryFile(suffix=".pdf") as fh:
            fh.write(data)
            fh.flush()
            return subprocess.run(
                ["pdftotext", "-layout", fh.name, "-"], check=True, capture_output=True, text=True
            ).stdout
    try:
        from pypdf import PdfReader
    except ImportError:
        pass
    else:
        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    try:
        from pdfminer.high_level import extract_text
    except ImportError:
        pass
    else:
        return extract_text(io.BytesIO(data))
    reason = "reading the PDFs back needs pdftotext (poppler-utils), pypdf or pdfminer.six"
    if os.environ.get("CHARGEBACK_REQUIRE_BROWSER") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def printed(text: str) -> dict[str, Decimal]:
    """The statement number and the total a PDF prints."""
    number = re.search(r"\b[A-Z]+-\d{4}-\d{2}-\d{4}\b", text)
    total = re.search(r"\bTotal\s+(-?)\$([\d,]+\.\d{2})", text)
    assert number and total, text[:2000]
    return {number.group(0): Decimal(total.group(1) + total.group(2).replace(",", ""))}


@pytest.fixture
def demo(transactional_db, settings):
    """The demo organisation, with traffic reaching a few days into last month whatever
    today's date (the conftest's week does not, after the 7th): the month to close."""
    settings.DEMO_TRAFFIC_DAYS = dt.datetime.now(dt.UTC).day + 3
    org, _created = seed_demo()
    return org


@pytest.fixture
def close_month(demo) -> tuple[Period, dict[str, Decimal]]:
    """The seeded month with the most usage (over, and not yet issued), its policy, and the
    totals the statements must carry."""
    this_month = Period.of(local_today(demo.tz)).first
    with within(demo):
        months = (
            DailyUsage.objects.filter(organization=demo, day__lt=this_month)
            .annotate(month=TruncMonth("day"))
            .values("month")
            .annotate(cost=Sum("cost"))
            .order_by("-cost")
        )
        issued = set(
            demo.billing_periods.exclude(state=PeriodState.OPEN).values_list("month", flat=True)
        )
        month = next(m["month"] for m in months if m["month"] not in issued)
        period = Period.parse(f"{month:%Y-%m}")
        save_policy(organization=demo, policy=parse_policy(policy(period.label)), actor="test")
        units = list(demo.units.values_list("code", "is_central", "archived"))
    out = io.StringIO()
    call_command(
        "spend", "--org", demo.slug, "--period", period.label, "--format", "json", stdout=out
    )
    central = next(code for code, is_central, _a in units if is_central)
    active = {code for code, _c, archived in units if not archived}
    return period, expected_totals(json.loads(out.getvalue()), central, active)


def statement_codes(page: Page) -> list[str]:
    return page.locator("table.statements tbody td:nth-child(3) code").all_inner_texts()


def test_finance_closes_a_month_and_the_pdfs_match_spend_and_policy(
    page, live_server, login, shoot, demo, close_month, tmp_path
) -> None:
    period, expected = close_month
    title = f"{period.first:%B %Y}"
    login("finance@acme.example")
    page.locator("nav.sidebar").get_by_role("link", name="Month-end close").click()
    expect(page.locator("h1")).to_have_text("Month-end close")
    shoot("finance", "close-periods")

    page.get_by_label("Month to close").select_option(period.label)
    page.get_by_role("button", name="Open for closing").click()
    expect(page.locator("h1")).to_contain_text(title)
    expect(page.locator(".msg.success")).to_contain_text(f"{title} is open for closing.")
    expect(page.locator("#review")).to_contain_text("No draft statements yet")
    shoot("finance", "close-opened")

    with page.expect_navigation(timeout=SLOW):
        page.get_by_role("button", name="Generate draft statements").click(timeout=SLOW)
    # With a worker the progress bar polls until the drafts are written, then the page
    # reloads; with eager tasks they are there at once. Either way: wait for the table.
    expect(page.locator("table.statements")).to_be_visible(timeout=SLOW)
    expect(page.locator("#progress[hx-trigger]")).to_have_count(0)
    expect(page.locator(".balance-card .badge")).to_have_text("Balances")
    rows = page.locator("table.statements tbody tr")
    expect(rows).to_have_count(len(expected))
    shoot("finance", "close-drafts")

    page.get_by_role("link", name="Issue statements…").click()
    expect(page.locator("h1")).to_have_text(f"Issue the statements for {title}?")
    expect(page.locator("dl.facts")).to_contain_text("Dispute deadline")
    shoot("finance", "close-issue-confirm")
    with page.expect_navigation(timeout=SLOW):
        page.get_by_role("button", name=f"Issue {len(expected)} statements").click(timeout=SLOW)
    expect(page.locator(".msg.success")).to_contain_text(
        f"Issued {len(expected)} statements for {title}."
    )
    expect(page.locator("h1 .badge")).to_have_text("Issued · in review")
    close_url = page.url
    shoot("finance", "close-issued")

    with within(demo):
        stored = {
            s.number: (s.unit.code, s.total, s.status)
            for s in Statement.objects.filter(period__month=period.first).select_related("unit")
        }
    assert {code: total for code, total, _s in stored.values()} == expected
    assert {status for _c, _t, status in stored.values()} == {"issued"}

    # One statement from its page, as a team would: the PDF's printed total.
    number, (code, total, _status) = next(
        (n, v) for n, v in sorted(stored.items()) if v[0] == "SUP-T1"
    )
    page.get_by_role("link", name=number).click()
    expect(page.locator("h1")).to_contain_text(number)
    statement_url = page.url
    expect(page.locator(".statement-head .total dd")).to_have_text(f"${total.quantize(CENT):,}")
    shoot("finance", "statement-detail")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    assert download.value.suggested_filename == f"{number}.pdf"
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    assert printed(text) == {number: expected[code]}
    assert "CHARGEBACK STATEMENT" in text.upper()  # SUP-T1 is billed: the header says so

    # Every statement: the archive from the close page.
    page.goto(close_url)
    with page.expect_download(timeout=SLOW) as download:
        page.get_by_role("link", name="Download all PDFs").click(timeout=SLOW)
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    totals = {}
    for name in archive.namelist():
        totals.update(printed(pdf_text(archive.read(name))))
    assert totals == {n: expected[code] for n, (code, _t, _s) in stored.items()}

    # Closing inside the dispute window needs a written reason, which the statements then show.
    page.goto(close_url)
    page.get_by_role("link", name="Close period…").click()
    expect(page.locator("#close-gates")).to_contain_text("Closing now needs an override.")
    shoot("finance", "close-override")
    page.get_by_label("Reason to close early").fill("The auditors need the month final today.")
    with page.expect_navigation(timeout=SLOW):
        page.get_by_role("button", name=f"Override and close {title}").click(timeout=SLOW)
    expect(page.locator(".msg.success")).to_contain_text(f"{title} is closed")
    page.goto(statement_url)
    window = page.locator(".statement-head dd.dispute")
    expect(window).to_contain_text("Closed early on ")
    expect(window).to_contain_text(": The auditors need the month final today.")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    closed_pdf = " ".join(pdf_text(Path(download.value.path()).read_bytes()).split())
    assert " ".join(window.inner_text().split()).removeprefix("Closed ").strip() in closed_pdf


def test_a_team_lead_sees_only_its_units_statements(
    page, live_server, login, shoot, demo, close_month
) -> None:
    from chargeback.billing.close import draft_statements, issue_statements

    period, _expected = close_month
    org = demo
    with within(org):
        draft_statements(org, period, actor="test")
        issue_statements(org, period, actor="test")
        by_unit: dict[str, list[str]] = defaultdict(list)
        for number, code in Statement.objects.filter(organization=org).values_list(
            "number", "unit__code"
        ):
            by_unit[code].append(number)
    login("lead.support@acme.example")
    page.locator("nav.sidebar").get_by_role("link", name="Statements").click()
    expect(page.locator("h1")).to_have_text("Statements")
    codes = statement_codes(page)
    assert set(codes) == SUPPORT_LEAD_UNITS & set(by_unit)
    assert "SALES" not in codes and "CENTRAL" not in codes
    shoot("lead-support", "statements")
    # Another unit's statement is not there, even by its address.
    other = by_unit["SALES-EMEA"][0]
    with within(org):
        other_id = Statement.objects.get(number=other).pk
    response = page.goto(f"{live_server.url}/o/acme/statements/{other_id}/")
    assert response is not None and response.status == 404
