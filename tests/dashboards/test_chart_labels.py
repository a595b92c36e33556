"""Chart labels are plain text (issue 15, finding 8): Plotly draws `<a href>`, `<b>` and `<br>`
in trace strings as markup, so a unit or service named with tags would be drawn as a link.
The page's figures carry them escaped; the table view and the CSV keep the name as written."""

from __future__ import annotations

import datetime as dt
import json
import re

from django_scopes import scopes_disabled

from chargeback.dashboards.plotly_text import escape_figure
from tests.dashboards.conftest import rollup

EVIL = '<a href="https://evil.example/">Click me</a>'


def _figures(page: str) -> list[dict]:
    scripts = re.findall(
        r'<script id="figure-[^"]*" type="application/json">(.*?)</script>', page, re.S
    )
    assert scripts, "the page draws no chart"
    return [json.loads(s) for s in scripts]


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def test_a_unit_and_service_named_with_markup_are_drawn_as_text(
    client_for, finance, org_a, unit_tree, now
):
    unit = unit_tree["eu"]
    with scopes_disabled():
        unit.name = EVIL
        unit.save()
    rollup(org_a, unit, dt.date(2026, 10, 3), cost="12.50", service=EVIL, model="<b>bold</b>")
    web = client_for(finance)
    for url in ("/o/alpha/", f"/o/alpha/units/{unit.pk}/spend/"):
        response = web.get(url)
        if response.status_code == 404:
            continue
        page = response.content.decode()
        data_strings = [
            s for fig in _figures(page) for trace in fig["data"] for v in trace.values()
            for s in _strings(v)
        ]  # fmt: skip
        assert not any("<a " in s or "<b>" in s for s in data_strings), data_strings
        if url == "/o/alpha/":
            assert '&lt;a href="https://evil.example/"&gt;Click me&lt;/a&gt;' in data_strings
        # The HTML table view shows the name as text (Django's autoescape).
        assert "&lt;a href=&quot;https://evil.example/&quot;&gt;Click me&lt;/a&gt;" in page
        assert EVIL not in page


def test_escape_figure_leaves_templates_and_numbers():
    figure = {
        "data": [
            {
                "type": "bar",
                "name": "R&D <i>",
                "x": ["2026-10-01", "<br>"],
                "y": [1.5, 2.0],
                "hovertemplate": "%{x}<br>%{y}<extra></extra>",
            }
        ],
        "layout": {"title": {"text": "Spend"}},
    }
    drawn = escape_figure(figure)
    trace = drawn["data"][0]
    assert trace["name"] == "R&amp;D &lt;i&gt;"
    assert trace["x"] == ["2026-10-01", "&lt;br&gt;"]
    assert trace["y"] == [1.5, 2.0]
    assert trace["hovertemplate"] == "%{x}<br>%{y}<extra></extra>"
    assert drawn["layout"] == figure["layout"]
    assert figure["data"][0]["name"] == "R&D <i>"  # the chart's own figure is unchanged
