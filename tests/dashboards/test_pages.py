"""The overview and unit pages per role, filters in the URL, CSV downloads, the empty state,
the event list, and query counts that do not grow with the rows."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from chargeback.dashboards.charts import Chart, Column
from chargeback.dashboards.csv_export import people_rows
from chargeback.units.models import BusinessUnit
from tests import factories as f
from tests.dashboards.conftest import rollup

D = dt.date


@pytest.fixture
def spend(org_a, unit_tree, now):
    u = unit_tree
    rollup(org_a, u["eu"], D(2026, 10, 3), cost="1234.50", service="eu-chat")
    rollup(org_a, u["de"], D(2026, 10, 5), cost="200", service="de-search", model="gpt-4o")
    rollup(org_a, u["de"], D(2026, 9, 5), cost="50", service="de-search", model="gpt-4o")
    rollup(org_a, u["support"], D(2026, 10, 4), cost="98765.43", service="support-only",
           provider="anthropic", model="claude-secret", attribution="central", errors=4, error_cost="11")  # fmt: skip
    return u


def body(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("persona", ["admin", "finance", "viewer"])
def test_overview_shows_every_unit_to_finance_and_viewers(request, client_for, spend, persona):
    page = body(client_for(request.getfixturevalue(persona)).get("/o/alpha/"))
    for text in (
        "Support",
        "Sales Europe",
        "Sales Germany",
        "$100,199.93",
        "$98,765.43",
        "support-only",
        "claude-secret",
    ):
        assert text in page, text
    assert "driven by unit <strong>Support</strong> (+$98,765.43)" in page
    assert "98.6%" in page  # unallocated share: 98,765.43 / 100,199.93
    assert 'src="/static/vendor/plotly/plotly-basic-4.1.1.min.js"' in page
    assert "<script>" not in page.replace('<script id="', "")  # json_script only, no inline code


def test_team_lead_sees_only_its_units_everywhere(client_for, team_lead, spend):
    c = client_for(team_lead)
    pages = [
        body(c.get("/o/alpha/")),
        body(c.get(f"/o/alpha/units/{spend['eu'].pk}/spend/")),
        body(c.get(f"/o/alpha/units/{spend['de'].pk}/spend/")),
        c.get("/o/alpha/?csv=units").content.decode(),
        c.get("/o/alpha/?csv=models").content.decode(),
        c.get("/o/alpha/?csv=services").content.decode(),
        c.get(f"/o/alpha/?unit={spend['support'].pk}").content.decode(),
    ]
    for page in pages:
        for hidden in (
            "Support",
            "support-only",
            "98,765",
            "98765",
            "claude-secret",
            "anthropic",
            ">Sales<",
        ):
            assert hidden not in page, hidden
    assert "$1,434.50" in pages[0] and "Sales Germany" in pages[0]
    assert f"/o/alpha/units/{spend['eu'].pk}/spend/" in pages[0]  # its unit's page, one click away
    for outside in ("support", "sales"):
        assert c.get(f"/o/alpha/units/{spend[outside].pk}/spend/").status_code == 404


def test_filters_live_in_the_url(client_for, finance, spend):
    c = client_for(finance)
    page = body(c.get("/o/alpha/?provider=anthropic"))
    assert "$98,765.43" in page and "Sales Europe" not in page.split('id="units"')[1]
    page = body(c.get(f"/o/alpha/?unit={spend['sales'].pk}&model=gpt-4o"))
    assert "$200.00" in page and "support-only" not in page.split("</form>", 1)[1]
    page = body(c.get("/o/alpha/?period=2026-09"))
    assert "September 2026" in page and "$50.00" in page
    page = body(c.get("/o/alpha/?period=custom&from=2026-10-03&to=2026-10-04"))
    assert "$99,999.93" in page
    # sort links and unit links keep the filters
    page = body(c.get("/o/alpha/?period=month&provider=openai"))
    assert "?period=month&amp;provider=openai&amp;sort=name#units" in page
    assert f"/o/alpha/units/{spend['eu'].pk}/spend/?period=month&amp;provider=openai" in page
    assert "?period=month&amp;provider=openai&amp;csv=daily" in page


def test_exact_csv_downloads_are_exactly_the_tables(client_for, finance, spend):
    c = client_for(finance)
    response = c.get("/o/alpha/?period=custom&from=2026-10-03&to=2026-10-05&csv=daily&format=exact")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="alpha-overview-daily-2026-10-03-2026-10-05-exact.csv"'
    )
    assert response.content.decode() == (
        "Day,Support,Sales Europe,Sales Germany,Total\n"
        "2026-10-03,0,1234.5,0,1234.5\n"
        "2026-10-04,98765.43,0,0,98765.43\n"
        "2026-10-05,0,0,200,200\n"
    )
    assert c.get("/o/alpha/?csv=providers&format=exact").content.decode() == (
        "Provider,Spend,Share\nanthropic,98765.43,0.9857\nopenai,1434.5,0.0143\n"
    )
    units = c.get("/o/alpha/?csv=units&sort=name&format=exact").content.decode().splitlines()
    assert units[0] == "Code,Unit,Billing mode,Spend,Prior,Change,Tokens,Requests,Share,Coverage"
    assert units[1:] == [
        "SALES-EU,Sales Europe,showback,1234.5,0,1234.5,1200,10,0.0123,1",
        "SALES-DE,Sales Germany,showback,200,50,150,1200,10,0.002,1",
        "SUPPORT,Support,showback,98765.43,0,98765.43,1200,10,0.9857,0",
    ]
    assert c.get("/o/alpha/?csv=nonsense").status_code == 404


def test_csv_downloads_for_people_are_rounded_with_currency_percentages_and_a_total(
    client_for, finance, spend
):
    c = client_for(finance)
    response = c.get("/o/alpha/?period=custom&from=2026-10-03&to=2026-10-05&csv=daily")
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="alpha-overview-daily-2026-10-03-2026-10-05.csv"'
    )
    assert response.content.decode() == (
        "Day,Support,Sales Europe,Sales Germany,Total,Currency\n"
        "2026-10-03,0.00,1234.50,0.00,1234.50,USD\n"
        "2026-10-04,98765.43,0.00,0.00,98765.43,USD\n"
        "2026-10-05,0.00,0.00,200.00,200.00,USD\n"
        "Total,98765.43,1234.50,200.00,100199.93,USD\n"
    )
    assert c.get("/o/alpha/?csv=providers").content.decode() == (
        "Provider,Spend,Share,Currency\n"
        "anthropic,98765.43,98.6%,USD\n"
        "openai,1434.50,1.4%,USD\n"
        "Total,100199.93,,USD\n"
    )
    units = c.get("/o/alpha/?csv=units&sort=name").content.decode().splitlines()
    assert units[0] == (
        "Code,Unit,Billing mode,Spend,Prior,Change,Tokens,Requests,Share,Coverage,Currency"
    )
    assert units[1] == "SALES-EU,Sales Europe,showback,1234.50,0.00,1234.50,1200,10,1.2%,100.0%,USD"
    assert units[-1] == "Total,,,100199.93,50.00,100149.93,3600,30,,,USD"
    bad = c.get("/o/alpha/?csv=units&format=xml")
    assert bad.status_code == 400 and bad.content.decode().startswith("format:")


def test_a_sub_cent_amount_in_a_people_csv_is_never_zero():
    table = Chart(
        key="t",
        title="t",
        figure={},
        columns=(Column("Day", "date"), Column("Cost", "money")),
        rows=((dt.date(2026, 10, 1), Decimal("0.000361")), (dt.date(2026, 10, 2), None)),
    )
    assert people_rows(table, "USD") == [
        ["Day", "Cost", "Currency"],
        ["2026-10-01", "0.00036", "USD"],
        ["2026-10-02", "", "USD"],
        ["Total", "0.00036", "USD"],
    ]


def test_csv_is_formula_injection_safe(client_for, finance, org_a, unit_tree, now):
    rollup(org_a, unit_tree["eu"], D(2026, 10, 3), cost="1", service="=HYPERLINK(evil)")
    text = client_for(finance).get("/o/alpha/?csv=services").content.decode()
    assert "'=HYPERLINK(evil)" in text


def test_empty_state(client_for, finance, team_lead, org_a, unit_tree, now):
    for who in (finance, team_lead):
        page = body(client_for(who).get("/o/alpha/"))
        assert "No usage in October 2026 to date" in page
        assert "data-chart" not in page
    page = body(client_for(finance).get(f"/o/alpha/units/{unit_tree['eu'].pk}/spend/"))
    assert "No usage for Sales Europe" in page and "No requests in this period." in page


def test_unit_page_figures_cheaper_mix_and_events(client_for, priced_org, now):  # noqa: F811
    from tests.usage.conftest import event, ingest

    sales = priced_org.units_map["SALES"]
    ingest(priced_org, [
        event(f"req-{i}", occurred_at="2026-10-19T10:00:00Z", gateway_key_id="gk-sales", model="gpt-4o",
              status_code=500 if i == 0 else 200)
        for i in range(30)
    ])  # fmt: skip
    c = client_for(f.MembershipFactory(organization=priced_org, role="finance"))
    page = body(c.get(f"/o/alpha/units/{sales.pk}/spend/"))
    assert "req-29" in page and "req-5" in page and "req-4<" not in page  # 25 a page, newest first
    assert "Page 1 of 2 · 30 requests" in page
    assert "A cheaper model mix" in page and "<td>text-embedding-3-small</td>" not in page
    assert "Failed 500" in page or "Failed 500" in body(
        c.get(f"/o/alpha/units/{sales.pk}/spend/?page=2")
    )
    day = body(c.get(f"/o/alpha/units/{sales.pk}/spend/?day=2026-10-18"))
    assert "No requests in this period." in day
    cheaper = c.get(f"/o/alpha/units/{sales.pk}/spend/?csv=cheaper").content.decode().splitlines()
    assert (
        cheaper[0]
        == "Provider,Model,Requests,Tokens,Actual spend,Cheapest model,Cost at cheapest,Saving,Currency"
    )
    assert cheaper[1].startswith("openai,gpt-4o,30,45000,")


def test_unit_detail_links_to_its_spend(client_for, viewer, unit_tree):
    page = body(client_for(viewer).get(f"/o/alpha/units/{unit_tree['eu'].pk}/"))
    assert f'href="/o/alpha/units/{unit_tree["eu"].pk}/spend/"' in page


def _units_with_spend(org, count: int, *, parent=None, start: int = 0) -> None:
    for i in range(start, start + count):
        unit = f.BusinessUnitFactory(
            organization=org, code=f"U{i}", name=f"Unit {i}", parent=parent
        )
        for day in (D(2026, 9, 10), D(2026, 10, 2), D(2026, 10, 9)):
            for model in ("m-a", "m-b"):
                rollup(org, unit, day, cost="10", model=model, service=f"svc-{i}")


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        body(client.get(url))
    return len(ctx.captured_queries)


# the most a showback page may run on SQLite (PostgreSQL runs fewer: one GROUPING SETS query
# where SQLite runs one per dimension), the top bar's bell (alerts and notices, one query, after
# a team lead's reach: one more) and the navigation's count of open disputes (one) included
MAX_QUERIES = 15
# the usage-and-charged card (dashboards/charge_reads.py): the months' states, the issued
# statements' lines, and the open month's preview (its policy, units, rollup, outcomes, prior
# month and issued months, as billing's policy preview reads them)
CHARGED_QUERIES = 8


@pytest.mark.parametrize(
    "url", ["/o/alpha/", "/o/alpha/?period=90d&stack=model", "/o/alpha/?provider=openai"]
)
def test_overview_query_count_does_not_grow(
    client_for, finance, team_lead, org_a, unit_tree, now, url
):  # noqa: E501
    counts = {}
    for rows in (1, 3):
        _units_with_spend(org_a, 1 if rows == 1 else 2, start=len(counts) * 10)
        _units_with_spend(
            org_a, 1 if rows == 1 else 2, parent=unit_tree["eu"], start=50 + len(counts) * 10
        )
        counts[rows] = [queries_for(client_for(who), url) for who in (finance, team_lead)]
    assert counts[1] == counts[3]
    assert max(counts[3]) <= MAX_QUERIES + CHARGED_QUERIES


def test_unit_page_query_count_does_not_grow(client_for, finance, org_a, now):
    parent = f.BusinessUnitFactory(organization=org_a, code="TOP", name="Top")
    counts = []
    for rows in (1, 2):  # 1 unit, then 3
        _units_with_spend(org_a, rows, parent=parent, start=len(counts) * 10)
        counts.append(queries_for(client_for(finance), f"/o/alpha/units/{parent.pk}/spend/"))
    assert (
        counts[0] == counts[1] <= MAX_QUERIES + CHARGED_QUERIES + 2
    )  # + the current prices and the event page


def test_daily_spend_stacks_by_model_on_request(client_for, finance, spend):
    c = client_for(finance)
    page = body(c.get("/o/alpha/?period=custom&from=2026-10-03&to=2026-10-05&stack=model"))
    assert "Daily spend by model" in page and "Daily spend by unit" not in page
    assert 'name="stack" value="model"' in page  # the filter form keeps the stacking
    # the toggle's links keep the other parameters
    assert "?period=custom&amp;from=2026-10-03&amp;to=2026-10-05&amp;stack=model" in page
    assert (
        c.get(
            "/o/alpha/?period=custom&from=2026-10-03&to=2026-10-05&stack=model&csv=daily&format=exact"
        ).content.decode()
        == "Day,anthropic/claude-secret,openai/gpt-4o-mini,openai/gpt-4o,Total\n"
        "2026-10-03,0,1234.5,0,1234.5\n"
        "2026-10-04,98765.43,0,0,98765.43\n"
        "2026-10-05,0,0,200,200\n"
    )
    # anything else than "model" stacks by unit
    assert "Daily spend by unit" in body(c.get("/o/alpha/?stack=bogus"))


def test_cost_per_1k_requests_chart_and_csv(client_for, finance, spend):
    c = client_for(finance)
    url = "/o/alpha/?period=custom&from=2026-10-03&to=2026-10-06"
    assert "Cost per 1K requests" in body(c.get(url))
    # 10 requests a day in the rollup rows; no request on the 6th: an empty cell
    assert c.get(url + "&csv=per1k&format=exact").content.decode() == (
        "Day,Requests,Spend,Cost per 1K requests\n"
        "2026-10-03,10,1234.5,123450\n"
        "2026-10-04,10,98765.43,9876543\n"
        "2026-10-05,10,200,20000\n"
        "2026-10-06,0,0,\n"
    )
    assert c.get(url + "&csv=per1k").content.decode().splitlines()[-1] == (
        "Total,30,100199.93,,USD"  # a cost per 1K requests is not summed
    )


HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "showback"}


def test_htmx_swaps_only_the_body_and_a_full_load_gives_the_page(client_for, finance, spend):
    c = client_for(finance)
    url = "/o/alpha/?period=2026-09"
    full = c.get(url)
    partial = c.get(url, **HTMX)
    assert body(full).startswith("<!doctype html>")
    text = body(partial)
    assert text.startswith('<div id="showback"') and "<html" not in text and "sidebar" not in text
    assert "September 2026" in text and "$50.00" in text
    assert text.strip() in body(full)  # the same markup as in the whole page
    for response in (full, partial):
        assert "HX-Request" in response["Vary"] and "HX-Target" in response["Vary"]
    # a history restore and an htmx request aimed elsewhere get the whole page
    restore = c.get(url, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)
    assert body(restore).startswith("<!doctype html>")
    other = c.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="rows")
    assert body(other).startswith("<!doctype html>")
    # the form, sort links and stack links all ask for the body over htmx
    assert 'hx-get="/o/alpha/"' in text
    assert 'hx-target="#showback"' in text and 'hx-push-url="true"' in text
    assert 'hx-get="?period=2026-09&amp;stack=model"' in text


def test_htmx_on_the_unit_page_swaps_the_breadcrumbs_too(client_for, finance, spend):
    c = client_for(finance)
    text = body(c.get(f"/o/alpha/units/{spend['de'].pk}/spend/?period=2026-09", **HTMX))
    assert text.startswith('<div id="showback"') and "Requests behind the spend" in text
    crumbs = text.split('<nav class="crumbs" id="crumbs"', 1)[1]
    assert crumbs.startswith(' aria-label="Breadcrumb" hx-swap-oob="true">')
    assert '/o/alpha/?period=2026-09">Overview</a>' in crumbs
    assert "Sales Europe</a> › Sales Germany</nav>" in crumbs
    full = body(c.get(f"/o/alpha/units/{spend['de'].pk}/spend/?period=2026-09"))
    assert "hx-swap-oob" not in full


def test_tables_escape_what_they_show(client_for, finance, org_a, now):
    evil = f.BusinessUnitFactory(organization=org_a, code="EVIL", name="<b>Evil & Co</b>")
    rollup(org_a, evil, D(2026, 10, 3), cost="1", service="<i>svc</i>")
    page = body(client_for(finance).get("/o/alpha/"))
    assert "&lt;b&gt;Evil &amp; Co&lt;/b&gt;</a>" in page  # the unit table
    assert "<td>&lt;i&gt;svc&lt;/i&gt;</td>" in page  # a chart's table view
    assert "<b>Evil" not in page and "<i>svc" not in page


def test_the_unallocated_card_links_to_the_central_buckets_explanation(
    client_for, finance, team_lead, spend
):
    with scopes_disabled():
        central = BusinessUnit.objects.get(organization__slug="alpha", is_central=True)
    page = body(client_for(finance).get("/o/alpha/"))
    link = f"/o/alpha/units/{central.pk}/spend/#central-explained"
    assert f'href="{link}"' in page
    explained = body(client_for(finance).get(f"/o/alpha/units/{central.pk}/spend/"))
    assert 'id="central-explained"' in explained and "can be <strong>negative</strong>" in explained
    assert link not in body(client_for(team_lead).get("/o/alpha/"))  # not a unit it leads
