"""The current day is not over: a daily chart marks it (a shaded band, a note, a paler bar) so
its lower figure does not read as a drop in spend."""

from __future__ import annotations

import dataclasses
import datetime as dt

from chargeback.dashboards.charts import Chart

BAND = "rgba(148, 163, 184, 0.18)"
PALE = 0.45  # the opacity of today's bars


def mark_partial_day(chart: Chart, today: dt.date) -> Chart:
    """`chart` with today marked, if today is one of its days; unchanged otherwise."""
    day = today.isoformat()
    data = chart.figure.get("data") or []
    if not any(day in (trace.get("x") or ()) for trace in data):
        return chart
    traces = []
    for trace in data:
        if trace.get("type") == "bar" and day in trace.get("x", ()):
            opacity = [PALE if x == day else 1 for x in trace["x"]]
            trace = {**trace, "marker": {**trace.get("marker", {}), "opacity": opacity}}
        traces.append(trace)
    layout = dict(chart.figure.get("layout") or {})
    before = (today - dt.timedelta(days=1)).isoformat()
    layout["shapes"] = [
        *layout.get("shapes", []),
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": f"{before} 12:00",
            "x1": f"{day} 12:00",
            "y0": 0,
            "y1": 1,
            "fillcolor": BAND,
            "line": {"width": 0},
            "layer": "below",
        },
    ]
    layout["annotations"] = [
        *layout.get("annotations", []),
        {
            "x": day,
            "xref": "x",
            "y": 1,
            "yref": "paper",
            "yanchor": "bottom",
            "text": "today so far",
            "showarrow": False,
            "font": {"size": 11, "color": "#475467"},
        },
    ]
    layout["margin"] = {**layout.get("margin", {}), "t": 24}
    return dataclasses.replace(chart, figure={**chart.figure, "data": traces, "layout": layout})
