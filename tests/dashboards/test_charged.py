"""Usage beside what is charged: the sums by line kind (known answers, to the cent), the
overview's and the unit page's "Usage and charged" card per role, the open month's preview
against billing's policy preview, and the statement lines' links to the usage behind them."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from chargeback.allocation.queries import policy_for
from chargeback.billing.models import BillingPeriod, PeriodState, Statement, StatementLine
from chargeback.billing.preview import preview_policy
from chargeback.calendar import Period
from chargeback.dashboards import charge_reads
from chargeback.dashboards.charged import LineSum, charge, months
from chargeback.tenancy.scoping import within
from tests.dashboards.conftest import rollup

# Pure sums ----------------------------------------------------------------------------------


def test_usage_plus_markup_plus_fees_is_the_charge_to_the_cent():
    c = charge(
        [("usage", D("200.00")), ("markup", D("100.00")), ("usage", D("40.00")),
         ("platform_fee", D("14.65"))],
        "USD",
    )  # fmt: skip
    assert (c.usage, c.charged, c.difference) == (D("240.00"), D("354.65"), D("114.65"))
    assert c.parts == (("markup", D("100.00")), ("platform_fee", D("14.65")))
    assert c.explained == [("Tier markup", D("100.00")), ("Platform fees", D("14.65"))]
    assert c.usage + sum(a for _, a in c.parts) == c.charged


def test_pools_and_discounts_explain_the_rest_and_zero_kinds_are_left_out():
    c = charge(
        [("usage", D("42.19")), ("discount", D("-2.50")), ("pool", D("8.60")),
         ("allowance", D("0")), ("adjustment", D("0.004")), ("adjustment", D("0.004"))],
        "USD",
    )  # fmt: skip
    assert c.parts == (("pool", D("8.60")), ("discount", D("-2.50")), ("adjustment", D("0.01")))
    assert c.charged == D("48.30")
    assert charge([], "JPY").charged == D("0")


def test_months_newest_first_with_units_summing_to_the_month():
    lines = [
        LineSum("2026-09", 1, "usage", D("240.00")),
        LineSum("2026-09", 1, "markup", D("100.00")),
        LineSum("2026-09", 2, "usage", D("42.19")),
        LineSum("2026-09", 2, "platform_fee", D("6.10")),
        LineSum("2026-10", 1, "usage", D("10.00")),
        LineSum("2026-08", 1, "usage", D("99.00")),  # not a month asked for
    ]
    out = months(
        lines,
        bases={"2026-09": "issued", "2026-10": "preview", "2026-11": "preview"},  # Nov: no lines
        names={1: "Agents Lab", 2: "Support Automation"},
        statements={("2026-09", 1): 7},
        currency="USD",
    )
    assert [(m.month, m.basis_label) for m in out] == [
        ("2026-10", "Preview (not issued)"),
        ("2026-09", "Issued statements"),
    ]
    september = out[1]
    assert (september.total.usage, september.total.charged) == (D("282.19"), D("388.29"))
    assert [(u.name, u.statement_id, u.charge.charged) for u in september.units] == [
        ("Agents Lab", 7, D("340.00")),
        ("Support Automation", None, D("48.29")),
    ]
    assert sum(u.charge.charged for u in september.units) == september.total.charged


# Pages --------------------------------------------------------------------------------------


@pytest.fixture
def charged(org_a, unit_tree, now):
    """September 2026 issued: Sales Europe $240.00 usage + $100.00 markup + $14.65 fee, Support
    $42.19 + $6.10 fee. October (today the 20th) open: Sales Europe $1,234.50 of usage."""
    u = unit_tree
    rollup(org_a, u["eu"], dt.date(2026, 10, 3), cost="1234.50", service="eu-chat")
    rollup(org_a, u["eu"], dt.date(2026, 9, 3), cost="240", service="eu-chat")
    rollup(org_a, u["support"], dt.date(2026, 9, 3), cost="42.19", service="support-only")
    with scopes_disabled():
        period = BillingPeriod.objects.create(
            organization=org_a,
            month=dt.date(2026, 9, 1),
            state=PeriodState.OPEN,  # drafted open, issued below (as PostgreSQL requires)
            usage_cost=D("282.19"),  # as the rollup has it: no late usage to adjust for
            requests=20,
        )
        made = {}
        for seq, (unit, lines) in enumerate(
            [
                (
                    u["eu"],
                    [
                        ("usage", "240.00", "openai/gpt-4o-mini"),
                        ("markup", "100.00", ""),
                        ("platform_fee", "14.65", ""),
                    ],
                ),
                (
                    u["support"],
                    [("usage", "42.19", "anthropic/claude-secret"), ("platform_fee", "6.10", "")],
                ),
            ],  # fmt: skip
            start=1,
        ):
            s = Statement.objects.create(
                organization=org_a, period=period, unit=unit, number=f"ST-2026-09-{seq}",
                sequence=seq, mode="chargeback", status="draft", currency="USD",
                total=sum(D(a) for _, a, _ in lines),
            )  # fmt: skip
            for pos, (kind, amount, ref) in enumerate(lines, start=1):
                StatementLine.objects.create(
                    organization=org_a, statement=s, position=pos, kind=kind,
                    description=kind, amount=D(amount), ref=ref,
                )  # fmt: skip
            made[unit.code] = s
        Statement.objects.filter(period=period).update(status="issued")
        BillingPeriod.objects.filter(pk=period.pk).update(state=PeriodState.IN_REVIEW)
    return made


def text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def card(response) -> str:
    page = response.content.decode()
    assert response.status_code == 200
    start = page.index('id="charged"')
    return re.sub(
        r"\s+", " ", re.sub(r"<[^>]+>", " ", page[start : page.index("</section>", start)])
    )


def test_finance_overview_shows_charged_beside_usage_and_why(client_for, finance, charged):
    c = client_for(finance)
    got = card(c.get("/o/alpha/?period=90d"))
    assert "2026-09 Issued statements $282.19 $402.94 +$120.75" in got
    assert "Tier markup +$100.00 · Platform fees +$20.75" in got
    assert "Sales Europe · statement $240.00 $354.65 +$114.65" in got
    assert "Support · statement $42.19 $48.29 +$6.10 Platform fees +$6.10" in got
    # the open month: the preview under the default policy (50% markup under 10M tokens)
    assert "2026-10 Preview (not issued) $1,234.50 $1,851.75 +$617.25 Tier markup +$617.25" in got
    # this month only: September is outside the window
    got = card(c.get("/o/alpha/"))
    assert "2026-10" in got and "2026-09" not in got


def test_the_preview_is_billing_policy_preview(org_a, charged):
    october = Period.parse("2026-10")
    with within(org_a):
        expected = {
            r.code: r.current
            for r in preview_policy(org_a, policy_for(org_a, october), october).rows
            if r.current
        }
        (month,) = charge_reads.charged_months(
            org_a, first=october.first, last=october.last, reach=None, unit_ids=None, names={}
        )
    assert expected == {"SALES-EU": D("1851.75")}
    assert month.basis == "preview"
    assert [u.charge.charged for u in month.units] == [D("1851.75")]
    assert month.units[0].unit_id == charged["SALES-EU"].unit_id


def test_the_preview_reads_the_month_again_only_when_usage_was_added(org_a, charged):
    """The open month's grouped rollup rows are memoised under the month's totals: a second
    read skips the rollup query (and the statements' evidence is never read), and usage added
    since shows at once."""
    october = Period.parse("2026-10")

    def preview() -> tuple[list[D], list[str]]:
        with CaptureQueriesContext(connection) as queries, within(org_a):
            (month,) = charge_reads.charged_months(
                org_a, first=october.first, last=october.last, reach=None, unit_ids=None, names={}
            )
        daily = [q["sql"] for q in queries if "usage_dailyusage" in q["sql"]]
        return [u.charge.charged for u in month.units], daily

    first, read = preview()
    assert first == [D("1851.75")] and len(read) == 1  # the month's rows; no prior month
    again, read = preview()
    assert again == first and read == []
    rollup(org_a, charged["SALES-EU"].unit, dt.date(2026, 10, 5), cost="100", service="eu-chat")
    after, read = preview()
    assert after == [D("2001.75")] and len(read) == 1  # (1234.50 + 100) * 1.5


def test_team_lead_sees_only_its_units_charges(client_for, team_lead, charged):
    c = client_for(team_lead)
    got = card(c.get("/o/alpha/?period=90d"))
    assert "2026-09 Issued statements $240.00 $354.65 +$114.65" in got
    assert "$48.29" not in got and "Support" not in got and "$402.94" not in got
    assert "2026-10 Preview (not issued) $1,234.50 $1,851.75" in got
    # asking for a unit out of reach drops the filter: still only its own units' charges
    got = card(c.get(f"/o/alpha/?period=90d&unit={charged['SUPPORT'].unit_id}"))
    assert "$48.29" not in got and "Support" not in got


def test_unit_page_shows_usage_and_charged_for_the_month(
    client_for, finance, team_lead, charged, unit_tree
):
    for who in (finance, team_lead):
        got = card(
            client_for(who).get(f"/o/alpha/units/{unit_tree['eu'].pk}/spend/?period=2026-09")
        )
        assert "2026-09 Issued statements $240.00 $354.65 +$114.65" in got
        assert "Tier markup +$100.00 · Platform fees +$14.65" in got
        assert "2026-10" not in got and "Support" not in got
    got = card(
        client_for(finance).get(f"/o/alpha/units/{unit_tree['support'].pk}/spend/?period=2026-09")
    )
    assert "$42.19 $48.29 +$6.10" in got and "Sales" not in got


def test_statement_lines_link_to_the_usage_behind_them(client_for, finance, team_lead, charged):
    eu = charged["SALES-EU"]
    for who in (finance, team_lead):
        c = client_for(who)
        page = c.get(f"/o/alpha/statements/{eu.pk}/").content.decode()
        usage = (
            f"/o/alpha/units/{eu.unit_id}/spend/?period=2026-09"
            "&amp;provider=openai&amp;model=gpt-4o-mini#events"
        )
        assert f'href="{usage}"' in page
        assert page.count(f'href="/o/alpha/units/{eu.unit_id}/spend/?period=2026-09#events"') == 2
        # the link leads to that month's usage of that model
        followed = text(c.get(usage.replace("&amp;", "&").split("#")[0]))
        assert "September 2026" in followed
    assert (
        client_for(team_lead).get(f"/o/alpha/statements/{charged['SUPPORT'].pk}/").status_code
        == 404
    )
