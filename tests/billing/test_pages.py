"""The close and statement pages: who may open what, the whole close through the views with
eager tasks, the PDF and CSV downloads, the drill-down to the events, and query counts that do
not grow with the lines.

September 2026 in Alpha (Europe/Berlin), priced at $1 (flat) and $10 (premium) per 1M tokens,
with the DESIGN policy (Experimental < 10M tokens: 50% markup; platform fee 15%):

    SALES-EU  3M flat + 0.5M premium = $8.00 -> 8 + 4 + 1.20 = $13.20
    SALES-DE  2M flat               = $2.00 -> 2 + 1 + 0.30 = $3.30  (chargeback)
    SUPPORT   4M flat               = $4.00 -> 4 + 2 + 0.60 = $6.60
    CENTRAL   1M flat, untagged     = $1.00 -> $1.00 (the central bucket pays no markup or fee)
    month: $15.00 of usage; statements $24.10 = 15 + 7.00 markups + 2.10 fees
"""

from __future__ import annotations

import datetime as dt
import io
import re
import time
import zipfile
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chargeback.allocation.policy import parse_policy
from chargeback.billing import statement_views
from chargeback.billing.documents import CSV_COLUMNS
from chargeback.billing.models import (
    BillingPeriod,
    DraftStatus,
    PeriodState,
    Statement,
    StatementLine,
)
from chargeback.billing.policy_versions import save_policy
from chargeback.calendar import Period
from chargeback.pricing.books import import_prices, parse_prices
from chargeback.tenancy.models import Organization
from chargeback.tenancy.scoping import within
from tests.usage.conftest import HEADER, event, ingest

NOW = dt.datetime(2026, 10, 6, 10, 0, tzinfo=dt.UTC)  # a Tuesday
SEP = Period.parse("2026-09")
DEADLINE = dt.date(2026, 10, 13)  # five German business days after Tuesday 6 October
PRICES = (
    HEADER
    + "internal,flat,2026-01-01,1,1,,,,,,USD,test price,2026-01-01\n"
    + "internal,premium,2026-01-01,10,10,,,,,,USD,test price,2026-01-01\n"
)
POLICY = {
    "effective_from": "2026-08",
    "tiers": [
        {"name": "Experimental", "up_to_tokens": 10_000_000, "markup": "0.50"},
        {"name": "Standard", "up_to_tokens": 100_000_000, "markup": "0.20"},
        {"name": "Enterprise", "up_to_tokens": None, "markup": "0.10"},
    ],
    "platform_fee": {"percent": "0.15", "fixed_per_unit": "0.00"},
}
TOTALS = {
    "SALES-EU": Decimal("13.20"),
    "SALES-DE": Decimal("3.30"),
    "SUPPORT": Decimal("6.60"),
    "CENTRAL": Decimal("1.00"),
}


def _ev(rid: str, at: str, team: str | None, millions: str, model: str = "flat", **kw) -> dict:
    tags = {"service": kw.pop("service", "eu-chat"), "workflow": "triage"}
    if team:
        tags["team"] = team
    return event(
        rid,
        occurred_at=at,
        provider="internal",
        model=model,
        input_tokens=int(Decimal(millions) * 1_000_000),
        output_tokens=0,
        tags=tags,
        **kw,
    )


EVENTS = [
    # SALES-EU flat: the first is 00:30 on 1 September in Berlin; 3M tokens in the month
    _ev("eu-1", "2026-08-31T22:30:00Z", "SALES-EU", "1"),
    _ev("eu-2", "2026-09-10T08:00:00Z", "SALES-EU", "1"),
    _ev("eu-3", "2026-09-20T08:00:00Z", "SALES-EU", "1"),
    _ev("eu-premium", "2026-09-15T08:00:00Z", "SALES-EU", "0.5", model="premium"),
    # outside September in Berlin: 23:30 on 31 August, 00:30 on 1 October
    _ev("eu-august", "2026-08-31T21:30:00Z", "SALES-EU", "1"),
    _ev("eu-october", "2026-09-30T22:30:00Z", "SALES-EU", "1"),
    _ev("de-1", "2026-09-11T08:00:00Z", "SALES-DE", "2", service="de-search"),
    _ev("sup-1", "2026-09-12T08:00:00Z", "SUPPORT", "4", service="support-only"),
    _ev("untagged-1", "2026-09-13T08:00:00Z", None, "1", service="mystery"),
    # an unknown model: quarantined, and the close page warns about it
    _ev("unknown-1", "2026-09-14T08:00:00Z", "SALES-EU", "1", model="not-priced"),
]


@pytest.fixture
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


@pytest.fixture
def month(org_a, unit_tree, now):
    with within(org_a):
        import_prices(org_a, parse_prices(PRICES), actor="test", label="test prices")
        save_policy(organization=org_a, policy=parse_policy(POLICY), actor="test")
    unit_tree["de"].billing_mode = "chargeback"
    unit_tree["de"].save()
    ingest(org_a, EVENTS)
    return unit_tree


def in_alpha():
    """The scope of org_a ("alpha"), the organisation these tests close months in."""
    return within(Organization.objects.get(slug="alpha"))


def url(name: str, **kwargs) -> str:
    from django.urls import reverse

    return reverse(f"billing:{name}", kwargs={"org_slug": "alpha", **kwargs})


def body(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def text(response) -> str:
    """The page's text without tags, whitespace collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body(response)))


def listed(response) -> list[str]:
    """The unit codes of the statement list's rows, in order."""
    html = body(response)
    table = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return re.findall(r'<code class="muted">([A-Z-]+)</code>', table)


@pytest.fixture
def submit(django_capture_on_commit_callbacks):
    """submit(client, path, data) -> posts, runs what the view scheduled on commit (the draft
    task, the PDF tasks: a test's transaction never commits; in a transactional test they
    have run already) and follows the redirect. In production the view's transaction commits
    inside the request, in the organisation's scope, and runs them there; here they run after
    the request, so they are run in that scope."""

    def post(client, path: str, data: dict | None = None):
        with django_capture_on_commit_callbacks() as on_commit:
            response = client.post(path, data or {})
        with in_alpha():
            for callback in on_commit:
                callback()
        assert response.status_code == 302, response.status_code
        return client.get(response["Location"])

    return post


@pytest.fixture
def open_and_draft(submit):
    def run(client) -> BillingPeriod:
        response = client.post(url("period-list"), {"month": "2026-09"})
        with in_alpha():
            period = BillingPeriod.objects.get(month=SEP.first)
        assert response.status_code == 302
        assert response["Location"] == url("period-detail", period_id=period.pk)
        submit(client, url("period-draft", period_id=period.pk))
        period.refresh_from_db()
        assert period.draft_status == DraftStatus.DONE
        return period

    return run


@pytest.fixture
def issued(open_and_draft, submit):
    def run(client) -> BillingPeriod:
        period = open_and_draft(client)
        submit(client, url("period-issue", period_id=period.pk))
        period.refresh_from_db()
        assert period.state == PeriodState.IN_REVIEW
        return period

    return run


def statement_of(code: str) -> Statement:
    with in_alpha():
        return Statement.objects.get(period__month=SEP.first, unit__code=code)


# The close, through the views ---------------------------------------------------------------


def test_the_close_from_opening_the_month_to_final(
    client_for, finance, month, submit, transactional_db
):
    c = client_for(finance)
    page = text(c.get(url("period-list")))
    assert "No month has been closed yet" in page
    assert '<option value="2026-09" selected>September 2026</option>' in body(
        c.get(url("period-list"))
    )  # the previous month is the default

    response = submit(c, url("period-list"), {"month": "2026-09"})
    page = text(response)
    with in_alpha():
        period = BillingPeriod.objects.get(month=SEP.first)
    assert "September 2026 is open for closing." in page
    assert "Usage cost of the month $15.00" in page
    assert "No draft statements yet" in page
    assert "1 event for this month is still in quarantine" in page

    response = submit(c, url("period-draft", period_id=period.pk))
    page = text(response)
    assert "Generated 4 draft statements for September 2026." in page
    with in_alpha():
        assert {s.unit.code: s.total for s in Statement.objects.filter(period=period)} == TOTALS
    for code, total in TOTALS.items():
        assert f"{code} " in page and f"${total}" in page
    # the review: the month's cost, each kind of line, the sum of the statements
    assert "Balances" in page
    assert "Usage cost of the month (at the drafts) $15.00" in page
    assert "Rounding of the usage lines to the cent $0.00" in page
    assert "Tier markups +$7.00" in page
    assert "Platform fees +$2.10" in page
    assert "Shared-cost pools $0.00" in page
    assert "Sum of the statements $24.10" in page
    assert "ALPHA-2026-09-0001" in page and "ALPHA-2026-09-0004" in page

    page = text(c.get(url("period-issue", period_id=period.pk)))
    assert "Issue the statements for September 2026?" in page
    assert "Chargeback 1 $3.30" in page and "Showback 3 $20.80" in page
    assert "All statements 4 $24.10" in page
    assert "Tuesday 13 October 2026" in page

    response = submit(c, url("period-issue", period_id=period.pk))
    page = text(response)
    assert "Issued 4 statements for September 2026." in page
    assert "Disputes are open until Tuesday 13 October 2026." in page
    assert "PDFs: 4 of 4 ready" in page  # rendered by the eager task after commit
    period.refresh_from_db()
    assert period.state == PeriodState.IN_REVIEW and period.dispute_deadline == DEADLINE
    with in_alpha():
        assert set(period.statements.values_list("status", "dispute_deadline")) == {
            ("issued", DEADLINE)
        }

    page = text(submit(c, url("period-issue", period_id=period.pk)))
    assert "2026-09 is already issued (in review)." in page
    page = text(submit(c, url("period-draft", period_id=period.pk)))
    assert "2026-09 is already issued" in page
    with in_alpha():
        assert set(period.statements.values_list("status", flat=True)) == {"issued"}

    page = text(c.get(url("period-close", period_id=period.pk)))
    assert "Closing now needs an override." in page
    assert "The dispute window of 2026-09 is open until Tuesday 13 October 2026" in page
    assert "Final 4 $24.10" in page
    page = text(submit(c, url("period-close", period_id=period.pk)))  # no reason: refused
    assert "2026-09 cannot be closed yet: the dispute window of 2026-09 is open" in page
    with in_alpha():
        assert set(period.statements.values_list("status", flat=True)) == {"issued"}
    reason = {"override_reason": "The auditors need September final today."}
    page = text(submit(c, url("period-close", period_id=period.pk), reason))
    assert "September 2026 is closed: 4 statements are final." in page
    assert "The override and its reason are on every statement." in page
    # closed before the deadline: the window ended with the close, and nothing says open
    assert "ended when the period was closed, 6 October 2026" in page
    assert "ended at the close, Tue 6 Oct" in page and "open until" not in page
    assert "4 statements · final" in page
    with in_alpha():
        assert set(period.statements.values_list("status", flat=True)) == {"final"}
    page = text(submit(c, url("period-close", period_id=period.pk)))
    assert "2026-09 is already closed." in page
    assert "already closed" in text(c.get(url("period-close", period_id=period.pk)))

    listing = text(c.get(url("period-list")))
    assert (
        "September 2026 Closed" in listing and "$24.10" in listing and "Tue 13 Oct 2026" in listing
    )


def test_issue_is_refused_when_usage_changed_since_the_drafts(
    client_for, finance, month, org_a, submit, open_and_draft
):
    c = client_for(finance)
    period = open_and_draft(c)
    ingest(org_a, [_ev("eu-late", "2026-09-21T08:00:00Z", "SALES-EU", "1")])
    page = text(c.get(url("period-detail", period_id=period.pk)))
    assert "Usage changed since the drafts: the month now costs $16.00" in page
    page = text(c.get(url("period-issue", period_id=period.pk)))
    assert "are out of date" in page and "usage changed (+1 request)" in page
    assert "Issue 4 statements" not in page
    page = text(submit(c, url("period-issue", period_id=period.pk)))
    assert "The drafts for 2026-09 are out of date" in page
    period.refresh_from_db()
    assert period.state == PeriodState.OPEN


def test_close_page_says_when_drafts_are_out_of_date_and_when_a_month_can_be_issued(
    client_for, finance, month, org_a, submit, open_and_draft, time_machine
):
    c = client_for(finance)
    period = open_and_draft(c)
    issue_link = url("period-issue", period_id=period.pk)
    assert f'href="{issue_link}"' in body(c.get(url("period-detail", period_id=period.pk)))
    with within(org_a):
        save_policy(
            organization=org_a,
            policy=parse_policy(dict(POLICY, platform_fee={"percent": "0.10"})),
            actor="test",
        )
    page = text(c.get(url("period-detail", period_id=period.pk)))
    assert (
        "The drafts are out of date: the allocation policy in force for the month changed "
        "since they were generated" in page
    )
    assert "out of date: regenerate" in page  # the first step is current again
    assert f'href="{issue_link}"' not in body(c.get(url("period-detail", period_id=period.pk)))
    submit(c, url("period-draft", period_id=period.pk))
    assert "out of date" not in text(c.get(url("period-detail", period_id=period.pk)))
    # Back on the month's last day: drafts can be reviewed, not issued.
    time_machine.move_to(dt.datetime(2026, 9, 30, 12, 0, tzinfo=dt.UTC), tick=False)
    html = body(c.get(url("period-detail", period_id=period.pk)))
    assert f'href="{issue_link}"' not in html
    assert "Issue from 1 October, when the month is over" in html
    assert "2026-09 is not over yet (it ends on 30 September 2026)" in text(c.get(issue_link))


def test_issue_and_close_pages_refuse_out_of_order_steps(client_for, finance, month, submit):
    c = client_for(finance)
    c.post(url("period-list"), {"month": "2026-09"})
    with in_alpha():
        period = BillingPeriod.objects.get(month=SEP.first)
    assert "has no draft statements: generate them first" in text(
        c.get(url("period-issue", period_id=period.pk))
    )
    page = text(submit(c, url("period-issue", period_id=period.pk)))
    assert "2026-09 has no draft statements: generate them first." in page
    page = text(submit(c, url("period-close", period_id=period.pk)))
    assert "2026-09 is not issued yet: issue its statements first." in page
    assert c.post(url("period-list"), {"month": "1999-01"}).status_code == 200  # not offered


def test_progress_fragment_polls_while_running_and_refreshes_when_done(
    client_for, finance, month, submit
):
    c = client_for(finance)
    c.post(url("period-list"), {"month": "2026-09"})
    with in_alpha():
        period = BillingPeriod.objects.get(month=SEP.first)
        BillingPeriod.objects.filter(pk=period.pk).update(
            draft_status=DraftStatus.RUNNING, draft_stage="allocating"
        )
    progress = url("period-progress", period_id=period.pk)
    response = c.get(progress, headers={"HX-Request": "true"})
    fragment = body(response)
    assert 'hx-trigger="every 1s"' in fragment and f'hx-get="{progress}"' in fragment
    assert 'value="35"' in fragment and "Allocating with the policy in force" in fragment
    assert "HX-Refresh" not in response.headers
    assert 'hx-trigger="every 1s"' in body(c.get(url("period-detail", period_id=period.pk)))
    # a second generation is not queued while one runs
    page = text(submit(c, url("period-draft", period_id=period.pk)))
    assert "already being generated" in page

    with in_alpha():
        BillingPeriod.objects.filter(pk=period.pk).update(draft_status=DraftStatus.DONE)
    response = c.get(progress, headers={"HX-Request": "true"})
    assert response["HX-Refresh"] == "true"
    assert "hx-trigger" not in body(response)
    assert c.get(progress).status_code == 302  # not htmx: the close page


# Who sees what ----------------------------------------------------------------------------


CLOSE_PAGES = ("period-detail", "period-issue", "period-close", "period-pdfs", "period-csv")


@pytest.mark.parametrize("persona", ["finance", "admin"])
def test_finance_and_admins_open_every_close_page(request, client_for, month, persona, issued):
    c = client_for(request.getfixturevalue(persona))
    period = issued(c)
    assert c.get(url("period-list")).status_code == 200
    for name in CLOSE_PAGES:
        response = c.get(url(name, period_id=period.pk))
        assert response.status_code == 200, name


@pytest.mark.parametrize("persona", ["viewer", "team_lead"])
def test_others_may_not_close(request, client_for, finance, month, persona, issued):
    period = issued(client_for(finance))
    c = client_for(request.getfixturevalue(persona))
    assert c.get(url("period-list")).status_code == 403
    assert c.post(url("period-list"), {"month": "2026-08"}).status_code == 403
    for name in (*CLOSE_PAGES, "period-progress"):
        assert c.get(url(name, period_id=period.pk)).status_code == 403, name
    for name in ("period-draft", "period-issue", "period-close"):
        assert c.post(url(name, period_id=period.pk)).status_code == 403, name
    with in_alpha():
        assert not BillingPeriod.objects.filter(month="2026-08-01").exists()


@pytest.mark.parametrize("persona", ["finance", "admin", "viewer"])
def test_finance_admin_and_viewers_see_every_units_statements(
    request, client_for, finance, month, persona, issued
):
    issued(client_for(finance))
    c = client_for(request.getfixturevalue(persona))
    page = text(c.get(url("statement-list")))
    assert "4 statements. Totals per month and mode" in page and "$24.10" not in page
    assert "September 2026 · Showback $20.80 (3 statements)" in page
    assert "September 2026 · Chargeback $3.30 (1 statement)" in page
    for code in TOTALS:
        assert f" {code} " in page
        statement = statement_of(code)
        assert c.get(url("statement-detail", statement_id=statement.pk)).status_code == 200


def test_a_team_lead_sees_only_its_units_statements(client_for, finance, team_lead, month, issued):
    issued(client_for(finance))
    c = client_for(team_lead)
    response = c.get(url("statement-list"))
    assert listed(response) == ["SALES-EU", "SALES-DE"]  # newest number first
    page = text(response)
    assert "2 statements." in page  # SALES-EU 13.20 (showback), SALES-DE 3.30 (chargeback)
    assert "Showback $13.20 (1 statement)" in page and "Chargeback $3.30 (1 statement)" in page
    assert " SALES-EU " in page and " SALES-DE " in page
    assert "SUPPORT" not in page and "CENTRAL" not in page and "Support" not in page
    # a filter naming another unit is ignored, not obeyed
    support = month["support"]
    page = text(c.get(url("statement-list"), {"unit": support.pk}))
    assert "SUPPORT" not in page and " SALES-EU " in page
    for code in ("SUPPORT", "CENTRAL"):
        other = statement_of(code)
        for name in ("statement-detail", "statement-pdf", "statement-csv"):
            assert c.get(url(name, statement_id=other.pk)).status_code == 404, (code, name)
        with in_alpha():
            line = other.lines.first()
        assert c.get(url("line-events", statement_id=other.pk, line_id=line.pk)).status_code == 404
    own = statement_of("SALES-DE")
    page = text(c.get(url("statement-detail", statement_id=own.pk)))
    assert "Chargeback statement ALPHA-2026-09-0002" in page
    assert "What the central bucket's statement holds" not in page
    central = text(
        client_for(finance).get(url("statement-detail", statement_id=statement_of("CENTRAL").pk))
    )
    assert "What the central bucket's statement holds" in central


def test_drafts_are_for_finance_only(client_for, finance, team_lead, viewer, month, open_and_draft):
    open_and_draft(client_for(finance))
    draft = statement_of("SALES-EU")
    assert "ALPHA-2026-09" in body(client_for(finance).get(url("statement-list")))
    for who in (team_lead, viewer):
        c = client_for(who)
        assert "No statements yet" in text(c.get(url("statement-list")))
        assert c.get(url("statement-detail", statement_id=draft.pk)).status_code == 404


def test_statement_list_filters_sorts_and_pages(client_for, finance, month, monkeypatch, issued):
    c = client_for(finance)
    issued(c)
    response = c.get(url("statement-list"), {"mode": "chargeback"})
    assert "1 statement. " in text(response)
    assert "September 2026 · Chargeback $3.30 (1 statement)" in text(response)
    assert listed(response) == ["SALES-DE"]
    page = text(c.get(url("statement-list"), {"period": "2026-09", "status": "issued"}))
    assert "4 statements." in page
    page = text(c.get(url("statement-list"), {"status": "final"}))
    assert "No statements match these filters" in page
    page = text(c.get(url("statement-list"), {"period": "garbage", "sort": "nonsense"}))
    assert "4 statements" in page  # bad values are ignored
    html = body(c.get(url("statement-list"), {"sort": "-total"}))
    assert re.findall(r"<code>(ALPHA-2026-09-\d{4})</code>", html) == [
        statement_of(code).number for code in ("SALES-EU", "SUPPORT", "SALES-DE", "CENTRAL")
    ]
    html = body(c.get(url("statement-list"), {"sort": "unit"}))
    assert re.findall(r"<code>(ALPHA-2026-09-\d{4})</code>", html) == [
        statement_of(code).number for code in ("CENTRAL", "SALES-DE", "SALES-EU", "SUPPORT")
    ]
    monkeypatch.setattr(statement_views, "PAGE_SIZE", 3)
    html = body(c.get(url("statement-list"), {"sort": "unit", "page": "2"}))
    assert re.findall(r"<code>(ALPHA-2026-09-\d{4})</code>", html) == [
        statement_of("SUPPORT").number
    ]
    assert "Page 2 of 2" in html and "sort=unit" in html


# The statement page, its downloads and the drill-down --------------------------------------


def test_statement_page_shows_header_lines_evidence_and_checksum(
    client_for, finance, month, issued
):
    c = client_for(finance)
    issued(c)
    statement = statement_of("SALES-EU")
    page = text(c.get(url("statement-detail", statement_id=statement.pk)))
    assert "Showback statement ALPHA-2026-09-0003" in page
    assert "No money moves for this statement" in page
    assert "Cost center SALES-EU" in page and "Tier Experimental" in page
    assert "Open You can dispute until 13 October 2026 (5 business days left)." in page
    assert "Lines sum to the total" in page
    assert (
        # each line ends with its Dispute action while the window is open
        "1 Usage internal/flat: 3,000,000 tokens, 3 requests 3,000,000 1.00 per 1M $3.00 Dispute "
        "2 Usage internal/premium: 500,000 tokens, 1 request 500,000 10.00 per 1M $5.00 Dispute "
        "3 Tier markup Tier markup: Experimental (50%) $8.00 50% $4.00 Dispute "
        "4 Platform fee Platform fee (15% of usage cost) $8.00 15% $1.20 Dispute "
        "Total $13.20"
    ) in page
    assert "Change +$7.00 (+700.0%)" in page
    assert "Main cause of the change new spend on internal/premium" in page
    assert "Attribution coverage 100.0%" in page
    assert "eu-chat $8.00" in page  # top services
    assert "internal/premium $5.00" in page and "internal/flat $3.00" in page  # top models
    assert "Prior month $1.00" in page  # eu-august
    assert "Organisation's spend $15.00" in page
    assert "Unallocated in the organisation $1.00" in page
    assert "Verified" in page and statement.checksum in page

    page = text(c.get(url("statement-detail", statement_id=statement_of("SALES-DE").pk)))
    assert "Chargeback statement" in page and "charged to Sales Germany's budget" in page


def test_dispute_deadline_shows_closed_once_passed(
    client_for, finance, month, time_machine, issued
):
    c = client_for(finance)
    issued(c)
    time_machine.move_to(dt.datetime(2026, 10, 14, 10, 0, tzinfo=dt.UTC), tick=False)
    c.force_login(finance.user)  # days later: the idle session has ended, sign in again
    page = text(c.get(url("statement-detail", statement_id=statement_of("SALES-EU").pk)))
    assert "Dispute deadline Closed The dispute window closed on 13 October 2026;" in page


def test_pdf_download(client_for, finance, team_lead, month, issued):
    issued(client_for(finance))
    statement = statement_of("SALES-DE")
    assert statement.pdf_status == "done"
    for who in (finance, team_lead):
        response = client_for(who).get(url("statement-pdf", statement_id=statement.pk))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == 'attachment; filename="ALPHA-2026-09-0002.pdf"'
        assert response.content.startswith(b"%PDF")
    # the stored file lost: rendered again on download, never an error page
    statement.pdf.storage.delete(statement.pdf.name)
    response = client_for(finance).get(url("statement-pdf", statement_id=statement.pk))
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_pdf_of_a_draft_is_rendered_on_the_fly(client_for, finance, month, open_and_draft):
    c = client_for(finance)
    open_and_draft(c)
    statement = statement_of("SUPPORT")
    assert statement.pdf_status == "" and not statement.pdf
    response = c.get(url("statement-pdf", statement_id=statement.pk))
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_all_pdfs_as_a_zip(client_for, finance, month, issued):
    c = client_for(finance)
    period = issued(c)
    response = c.get(url("period-pdfs", period_id=period.pk))
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == (
        'attachment; filename="alpha-2026-09-statements.zip"'
    )
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == [f"ALPHA-2026-09-{i:04d}.pdf" for i in range(1, 5)]
    assert all(archive.read(n).startswith(b"%PDF") for n in archive.namelist())


def test_csv_downloads_are_formula_safe(client_for, finance, month, open_and_draft):
    c = client_for(finance)
    period = open_and_draft(c)
    statement = statement_of("SALES-EU")
    # a draft line whose description a spreadsheet would run as a formula
    with in_alpha():
        StatementLine.objects.filter(statement=statement, position=1).update(
            description='=HYPERLINK("http://evil.example","click")'
        )
    response = c.get(url("statement-csv", statement_id=statement.pk))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="ALPHA-2026-09-0003.csv"'
    rows = response.content.decode().splitlines()
    assert rows[0] == ",".join(CSV_COLUMNS)
    with in_alpha():
        assert len(rows) == 1 + statement.lines.count()
    assert "'=HYPERLINK(" in rows[1] and ',"=HYPERLINK' not in rows[1]
    assert rows[-1].startswith("ALPHA-2026-09-0003,2026-09,SALES-EU,Sales Europe,showback,draft")

    everything = c.get(url("period-csv", period_id=period.pk))
    assert everything["Content-Disposition"] == 'attachment; filename="alpha-2026-09-lines.csv"'
    lines = everything.content.decode().splitlines()
    with in_alpha():
        assert len(lines) == 1 + StatementLine.objects.filter(statement__period=period).count()
    assert "'=HYPERLINK(" in everything.content.decode()


def test_a_usage_line_drills_down_to_its_events(
    client_for, team_lead, finance, month, monkeypatch, issued
):
    issued(client_for(finance))
    statement = statement_of("SALES-EU")
    with in_alpha():
        flat = statement.lines.get(kind="usage", ref="internal/flat")
    c = client_for(team_lead)
    detail = body(c.get(url("statement-detail", statement_id=statement.pk)))
    events_url = url("line-events", statement_id=statement.pk, line_id=flat.pk)
    assert f'href="{events_url}"' in detail
    html = body(c.get(events_url))
    # the unit's flat events of September in Berlin: not August's, October's or another unit's
    assert re.findall(r"<code>([a-z0-9-]+)</code> *(?:<span|</td>)", html) == [
        "eu-3",
        "eu-2",
        "eu-1",
    ]
    page = text(c.get(events_url))
    assert "Requests 3" in page and "Priced cost $3.00" in page
    assert "1 Sep 00:30:00" in page  # eu-1 in the organisation's timezone
    assert "eu-chat" in page and "triage" in page and "team_tag" in page
    assert "eu-1 1 Sep 00:30:00 eu-chat · triage 1,000,000 0 $1.00 team_tag v1" in page
    assert "Price book version 1: test prices" in body(c.get(events_url))

    monkeypatch.setattr(statement_views, "EVENTS_PER_PAGE", 2)
    html = body(c.get(events_url))
    assert re.findall(r"<code>(eu-\d)</code>", html) == ["eu-3", "eu-2"]
    after = re.search(r'href="\?after=([0-9.]+)#events"', html).group(1)
    html = body(c.get(events_url, {"after": after}))
    assert re.findall(r"<code>(eu-\d)</code>", html) == ["eu-1"]
    assert "Older" not in html and "Newest" in html
    assert "eu-" in body(c.get(events_url, {"after": "not-a-cursor"}))
    # Not a cursor (Unicode digits, too long): the first page; the year 5138 or 1970: all
    # events or none; never a 500
    for cursor in ("\u00b2\u00b3.1", "1.\u0661", "1.2.3", "9" * 30 + ".1", "1." + "9" * 30):
        assert "eu-3" in body(c.get(events_url, {"after": cursor})), cursor
    assert "eu-3" in body(c.get(events_url, {"after": "9" * 17 + ".1"}))
    assert "eu-3" not in body(c.get(events_url, {"after": "1." + "9" * 18}))


def test_the_requests_behind_a_usage_line_download_as_csv(
    client_for, team_lead, finance, month, issued
):
    issued(client_for(finance))
    statement = statement_of("SALES-EU")
    with in_alpha():
        flat = statement.lines.get(kind="usage", ref="internal/flat")
        markup = statement.lines.get(kind="markup")
        other = (
            Statement.objects.exclude(unit__code="SALES-EU")
            .filter(period__month=SEP.first, lines__kind="usage")
            .first()
        )
        other_line = other.lines.filter(kind="usage").first()
    c = client_for(team_lead)
    csv_url = url("line-events-csv", statement_id=statement.pk, line_id=flat.pk)
    assert f'href="{csv_url}"' in body(
        c.get(url("line-events", statement_id=statement.pk, line_id=flat.pk))
    )
    response = c.get(csv_url)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        f"{statement.number}-line-{flat.position}-requests.csv" in response["Content-Disposition"]
    )
    rows = b"".join(response.streaming_content).decode().splitlines()
    assert rows[0].startswith("request_id,occurred_at,service,workflow,provider,model,")
    assert [r.split(",")[0] for r in rows[1:]] == ["eu-1", "eu-2", "eu-3"]  # oldest first
    assert rows[1].split(",")[1] == "2026-09-01T00:30:00+02:00"  # the organisation's zone
    assert ",1,USD," in rows[1]  # exact cost and its currency
    # not a usage line: no requests; another unit's statement: not the team lead's to see
    assert (
        c.get(url("line-events-csv", statement_id=statement.pk, line_id=markup.pk)).status_code
        == 404
    )
    other_url = url("line-events-csv", statement_id=other.pk, line_id=other_line.pk)
    assert c.get(other_url).status_code == 404
    assert client_for(finance).get(other_url).status_code == 200


def test_other_lines_show_what_they_are_built_from(client_for, finance, month, issued):
    c = client_for(finance)
    issued(c)
    statement = statement_of("SALES-EU")
    with in_alpha():
        markup = statement.lines.get(kind="markup")
    page = text(c.get(url("line-events", statement_id=statement.pk, line_id=markup.pk)))
    assert "What this line is built from" in page
    assert "Amount = 8 × 0.5, rounded to the cent: $4.00" in page
    assert "Requests behind this line" not in page


def test_statement_page_with_60_lines_is_quick_and_its_queries_do_not_grow(
    client_for, finance, month, open_and_draft, django_assert_max_num_queries
):
    c = client_for(finance)
    open_and_draft(c)
    statement = statement_of("SALES-DE")  # a draft: lines may still be added
    page = url("statement-detail", statement_id=statement.pk)
    c.get(page)
    with CaptureQueriesContext(connection) as few:
        body(c.get(page))
    with in_alpha():
        StatementLine.objects.bulk_create(
            StatementLine(
                organization=statement.organization,
                statement=statement,
                position=100 + i,
                kind="usage",
                description=f"internal/model-{i}: 1,234,567 tokens, 999 requests",
                quantity=Decimal(1234567),
                unit_price=Decimal("0.00000020776839344343"),
                amount=Decimal("0.00"),
                ref=f"internal/model-{i}",
            )
            for i in range(60 - statement.lines.count())
        )
    with django_assert_max_num_queries(len(few)):
        html = body(c.get(page))
    assert html.count('<tr class="kind-') == 60
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        body(c.get(page))
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.2, timings


def test_a_stuck_generation_can_be_started_again(client_for, finance, month, submit):
    import datetime as dt

    from django.utils import timezone

    c = client_for(finance)
    c.post(url("period-list"), {"month": "2026-09"})
    with in_alpha():
        period = BillingPeriod.objects.get(month=SEP.first)
        BillingPeriod.objects.filter(pk=period.pk).update(
            draft_status=DraftStatus.RUNNING,
            draft_started_at=timezone.now() - dt.timedelta(hours=1),
        )
    page = text(submit(c, url("period-draft", period_id=period.pk)))
    assert "already being generated" not in page
    period.refresh_from_db()
    assert period.draft_status == DraftStatus.DONE


def test_unit_spend_page_lists_the_units_issued_statements(
    client_for, finance, team_lead, month, issued
):
    period = issued(client_for(finance))
    with in_alpha():
        statement = Statement.objects.get(period=period, unit=month["de"])
    page = body(client_for(team_lead).get(f"/o/alpha/units/{month['eu'].pk}/spend/"))
    assert statement.number in page
    with in_alpha():
        others = Statement.objects.filter(period=period).exclude(
            unit__in=[month["eu"], month["de"]]
        )
        assert others.exists()
        assert all(s.number not in page for s in others)


def _issued_with_pdfs_lost(issued, client, monkeypatch) -> BillingPeriod:
    """Issued while the PDF tasks are lost (queued, never run): a stored PDF cannot be undone
    (PostgreSQL's trigger), so the tests below start from PDFs not rendered yet."""
    from chargeback.billing import tasks

    monkeypatch.setattr(tasks.render_statement_pdf, "delay", lambda *args, **kwargs: None)
    period = issued(client)
    monkeypatch.undo()
    return period


def test_the_zip_waits_for_the_workers_when_many_pdfs_are_missing(
    client_for, finance, month, issued, monkeypatch
):
    from chargeback.billing import views

    c = client_for(finance)
    period = _issued_with_pdfs_lost(issued, c, monkeypatch)
    with in_alpha():
        Statement.objects.filter(period=period).update(pdf_status="queued")
        Statement.objects.filter(period=period, unit__code="SUPPORT").update(pdf_status="failed")
    monkeypatch.setattr(views, "INLINE_PDFS", 2)
    response = c.get(url("period-pdfs", period_id=period.pk))
    assert response.status_code == 302
    page = text(c.get(response["Location"]))
    assert (
        "0 of 4 PDFs are ready; the workers are rendering the other 4 (1 of them queued "
        "again)" in page
    )
    # the failed one was queued again; in-process tasks rendered it at once
    assert statement_of("SUPPORT").pdf_status == "done"
    monkeypatch.setattr(views, "INLINE_PDFS", 3)  # three missing: rendered with the request
    response = c.get(url("period-pdfs", period_id=period.pk))
    assert response["Content-Type"] == "application/zip"
    assert len(zipfile.ZipFile(io.BytesIO(response.content)).namelist()) == 4


def test_the_zip_queues_failed_and_long_waiting_pdfs_again_until_they_are_ready(
    client_for, finance, month, issued, monkeypatch, time_machine
):
    from chargeback.billing import pdf, views

    c = client_for(finance)
    period = _issued_with_pdfs_lost(issued, c, monkeypatch)
    with in_alpha():
        Statement.objects.filter(period=period).update(pdf_status="failed")
    monkeypatch.setattr(views, "INLINE_PDFS", 2)
    real = pdf.render_pdf

    def broken(statement):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(pdf, "render_pdf", broken)
    assert c.get(url("period-pdfs", period_id=period.pk)).status_code == 302
    # in-process, each queued render failed at once: none is left waiting for a task
    with in_alpha():
        assert set(
            Statement.objects.filter(period=period).values_list("pdf_status", flat=True)
        ) == {"failed"}
    monkeypatch.setattr(pdf, "render_pdf", real)
    with in_alpha():
        Statement.objects.filter(period=period).update(pdf_status="queued")  # a lost queue
    assert c.get(url("period-pdfs", period_id=period.pk)).status_code == 302  # too soon
    assert statement_of("SUPPORT").pdf_status == "queued"
    time_machine.move_to(NOW + dt.timedelta(minutes=11), tick=False)
    response = c.get(url("period-pdfs", period_id=period.pk))
    assert response.status_code == 302
    assert "4 of them queued again" in text(c.get(response["Location"]))
    response = c.get(url("period-pdfs", period_id=period.pk))
    assert response["Content-Type"] == "application/zip"
    assert len(zipfile.ZipFile(io.BytesIO(response.content)).namelist()) == 4


def test_lines_that_cancel_out_balance_on_every_database(
    client_for, finance, month, open_and_draft
):
    """SQLite sums decimals as floats: -37.41 + 45.00 - 7.59 is 3.55e-15 there, which must not
    show as an activity total or put the month out of balance."""
    c = client_for(finance)
    period = open_and_draft(c)
    statement = statement_of("SUPPORT")
    with in_alpha():
        for position, amount in enumerate(("-37.41", "45.00", "-7.59"), start=100):
            StatementLine.objects.create(
                organization=statement.organization,
                statement=statement,
                position=position,
                kind="activity",
                description="activity",
                amount=Decimal(amount),
            )
    page = text(c.get(url("period-detail", period_id=period.pk)))
    assert "Balances" in page and "Out of balance" not in page
    assert "Activity" not in page.split("Against the month's cost")[1].split("Sum of")[0]


def test_issuing_when_pdfs_fail_to_render_still_issues_and_says_so(
    client_for, finance, month, open_and_draft, submit, monkeypatch, transactional_db
):
    """Committed for real, so the in-process PDF tasks run before the view answers."""
    from chargeback.billing import pdf

    c = client_for(finance)
    period = open_and_draft(c)

    def broken(statement):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(pdf, "render_pdf", broken)
    page = text(submit(c, url("period-issue", period_id=period.pk)))
    period.refresh_from_db()
    assert period.state == PeriodState.IN_REVIEW
    assert "Issued 4 statements for September 2026." in page
    assert "4 PDFs could not be rendered yet: each is rendered again when downloaded" in page
    with in_alpha():
        assert set(period.statements.values_list("pdf_status", flat=True)) == {"failed"}
    monkeypatch.undo()
    response = c.get(url("statement-pdf", statement_id=statement_of("SUPPORT").pk))
    assert response.content.startswith(b"%PDF")
