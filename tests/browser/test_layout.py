"""Layout at 1366 x 768 with a unit name of 200 characters (the maximum): the pages that list
units, statements and prices keep to the window's width (issue 18, item 8). Screenshots go to
artifacts/screenshots/layout-1366/."""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from chargeback.billing.close import draft_statements
from chargeback.calendar import Period
from chargeback.tenancy.scoping import within
from chargeback.units.models import BusinessUnit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

# Words, then one 60-character token with no place to break.
LONG_NAME = ("Agents Lab applied research and evaluation platform " * 3)[:140] + "X" * 60

WIDTHS = """() => {
  const main = document.querySelector("main");
  return [document.documentElement.scrollWidth, window.innerWidth,
          main.scrollWidth, main.clientWidth];
}"""


def test_long_unit_names_and_wide_tables_fit_1366_px(
    page, live_server, demo, login, screenshot_dir
):
    (screenshot_dir / "layout-1366").mkdir(exist_ok=True)
    assert len(LONG_NAME) == 200
    with scopes_disabled():
        unit = BusinessUnit.objects.get(organization=demo, code="AGENTS")
        BusinessUnit.objects.filter(pk=unit.pk).update(name=LONG_NAME)
    with within(demo):  # this month's drafts, which carry the long name
        period = draft_statements(demo, Period.current(demo.tz))
        assert period.statements.filter(unit_name=LONG_NAME).exists()
    page.set_viewport_size({"width": 1366, "height": 768})
    login("finance@acme.example")
    base = f"{live_server.url}/o/{demo.slug}"
    pages = {
        "units": f"{base}/units/",
        "statements": f"{base}/statements/",
        "price-book": f"{base}/prices/",
        "overview": f"{base}/",
        "unit-spend": f"{base}/units/{unit.pk}/spend/",
    }
    pages["close"] = f"{base}/billing/periods/{period.pk}/"
    for name, url in pages.items():
        response = page.goto(url)
        assert response is not None and response.status == 200, (name, response)
        doc, window, main, visible = page.evaluate(WIDTHS)
        page.screenshot(path=str(screenshot_dir / "layout-1366" / f"{name}.png"), timeout=30_000)
        assert doc <= window, f"{name}: the page is {doc} px wide in a {window} px window"
        assert main <= visible + 1, f"{name}: the content is {main} px wide in {visible} px"
