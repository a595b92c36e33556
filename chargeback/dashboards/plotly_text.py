"""Plotly draws a trace's strings (series names, category labels, hover text) as its own small
markup language: `<a href=...>`, `<b>`, `<br>` in a unit's name would be drawn as a link or
formatting. `escape_figure` makes every data string plain text: `&`, `<` and `>` become the
entities Plotly shows as those characters. Our own templates (`hovertemplate`, layout titles)
are left as written."""

from __future__ import annotations

from typing import Any

# The trace keys that carry data (names, labels, values); templates and styling are ours.
DATA_KEYS = ("name", "x", "y", "labels", "text", "hovertext", "customdata", "ids", "parents")


def plain(value: Any) -> Any:
    """A string (or the strings in a list) as Plotly plain text; other values unchanged."""
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def escape_figure(figure: dict) -> dict:
    """A copy of `figure` with every data string of every trace escaped."""
    if not figure:
        return figure
    data = [
        {k: plain(v) if k in DATA_KEYS else v for k, v in trace.items()}
        for trace in figure.get("data", [])
    ]
    return {**figure, "data": data}
