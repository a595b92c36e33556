"""The charting script is the smallest Plotly bundle that draws our charts, served compressed;
the favicon is served at the site's root (issue 18, items 8 and 10)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from django.conf import settings
from django.test import override_settings

ROOT = Path(settings.BASE_DIR)
BUNDLE = "vendor/plotly/plotly-basic-4.1.1.min.js"
BASIC_TRACES = {"bar", "pie", "scatter"}  # what plotly.js's basic bundle holds
AXIS_TYPES = {"date", "category", "linear", "log", "-"}


def test_every_chart_trace_type_is_in_the_basic_bundle():
    used = set()
    for path in (ROOT / "chargeback").rglob("charts.py"):
        used |= set(re.findall(r'"type":\s*"(\w+)"', path.read_text())) - AXIS_TYPES
    assert used and used <= BASIC_TRACES, used
    head = (ROOT / "static" / BUNDLE).read_text()[:200]
    assert "plotly.js (basic - minified) v4.1.1" in head
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        assert "plotly-4.1.1.min.js" not in text and "plotly.min.js" not in text, template


def test_the_compressed_copy_is_the_bundle():
    plain = (ROOT / "static" / BUNDLE).read_bytes()
    packed = (ROOT / "static" / (BUNDLE + ".gz")).read_bytes()
    assert gzip.decompress(packed) == plain
    assert len(packed) < len(plain) / 2


@override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=True)
def test_plotly_is_served_gzipped_and_the_favicon_at_the_root(client):
    response = client.get(f"/static/{BUNDLE}", HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert int(response["Content-Length"]) < 500_000
    plain = client.get(f"/static/{BUNDLE}")
    assert plain.status_code == 200 and "Content-Encoding" not in plain
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
