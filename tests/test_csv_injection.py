"""Formula injection: a corpus of spreadsheet payloads placed in unit names and event tags
flows into every CSV export (export_events CSV and FOCUS, the dashboards' tables, the spend
command) and into the product's one CSV writer (chargeback.safecsv); no cell may start with a
character a spreadsheet reads as a formula. Every CSV writer in chargeback/ goes through it."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django_scopes import scopes_disabled

from chargeback import safecsv
from tests.reconciliation.conftest import metered  # noqa: F401 (fixture)
from tests.usage.conftest import event, ingest, priced_org  # noqa: F401 (fixture)

PAYLOADS = (
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(1)",
    "\t=1",
    "\r=1",
    '=HYPERLINK("http://evil.example","x")',
    "|calc",
    "%0A=1",
    "ok\r=2+3",
    "ok\n@SUM(1)",
)
DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")
NUMBER = re.compile(r"-?[0-9][0-9,.]*")
ROOT = Path(__file__).resolve().parent.parent / "chargeback"


def unsafe_cells(text: str) -> list[str]:
    return [
        cell
        for row in csv.reader(io.StringIO(text, newline=""))
        for cell in row
        if cell.startswith(DANGEROUS) and not NUMBER.fullmatch(cell)
    ]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_writers_neutralise_every_payload(payload):
    out = io.StringIO()
    safecsv.writer(out, lineterminator="\n").writerow([payload, "-12.50", "plain"])
    dict_out = io.StringIO()
    w = safecsv.DictWriter(dict_out, fieldnames=["a", "b"], lineterminator="\n")
    w.writeheader()
    w.writerow({"a": payload, "b": "-3"})
    for text in (out.getvalue(), dict_out.getvalue()):
        assert unsafe_cells(text) == [], text
        assert "'" in text or not payload.startswith(DANGEROUS)  # escaped, not dropped
        assert len(list(csv.reader(io.StringIO(text, newline="")))) == 1 + text.startswith("a,")
    assert next(csv.reader(io.StringIO(out.getvalue())))[1:] == ["-12.50", "plain"]


def test_every_csv_writer_in_the_product_is_the_formula_safe_one():
    writes = re.compile(r"\bcsv\.(writer|DictWriter)\(")
    offenders = []
    for path in ROOT.rglob("*.py"):
        text = path.read_text()
        rel = path.relative_to(ROOT).as_posix()
        if rel == "safecsv.py":
            continue
        if "from defusedcsv" in text:
            offenders.append(f"{rel}: defusedcsv directly (use chargeback.safecsv)")
        if writes.search(text) and "from chargeback import safecsv as csv" not in text:
            offenders.append(f"{rel}: a plain csv writer")
    assert offenders == []


@pytest.fixture
def poisoned(metered):  # noqa: F811 (fixture)
    """The metered organisation, unit SUP named with a payload, events tagged with payloads."""
    with scopes_disabled():
        sup = metered.units_map["SUP"]
        sup.name = PAYLOADS[0]
        sup.save(update_fields=["name"])
    events = [
        event(
            f"evil-{i}",
            occurred_at="2026-10-09T10:00:00Z",
            provider="internal",
            model="flat",
            tags={
                "team": "SUP",
                "workflow": payload,
                "prompt_template": payload,
                "environment": payload,
            },
        )  # fmt: skip
        for i, payload in enumerate(PAYLOADS)
    ]
    ingest(metered, events)
    return metered


def _export(org, tmp_path, *args) -> str:
    path = tmp_path / "out.csv"
    call_command("export_events", "--org", org.slug, "--since", "2026-10-01",
                 "--output", str(path), *args, stdout=io.StringIO())  # fmt: skip
    return path.read_text()


@pytest.mark.parametrize(
    "args", [("--format", "csv"), ("--format", "focus"), ("--format", "focus",
                                                          "--focus-version", "1.0")]
)  # fmt: skip
def test_export_events_is_formula_safe(poisoned, tmp_path, args):
    text = _export(poisoned, tmp_path, *args)
    assert unsafe_cells(text) == []
    marker = "'=cmd" if args[1] == "focus" else "'=HYPERLINK"  # the payload is there, escaped
    assert marker in text


def test_spend_command_csv_is_formula_safe(poisoned):
    out = io.StringIO()
    call_command("spend", "--org", poisoned.slug, "--period", "2026-10", "--format", "csv",
                 stdout=out)  # fmt: skip
    assert "'=cmd" in out.getvalue()
    assert unsafe_cells(out.getvalue()) == []


@pytest.mark.parametrize("fmt", ["rounded", "exact"])
def test_dashboard_tables_are_formula_safe(poisoned, client_for, admin, fmt):
    c = client_for(admin)
    seen = ""
    for key in ("units", "models", "services"):
        url = f"/o/{poisoned.slug}/?csv={key}&format={fmt}&period=custom&from=2026-10-01&to=2026-10-31"
        response = c.get(url)
        assert response.status_code == 200, (key, response.status_code)
        text = b"".join(response).decode() if response.streaming else response.content.decode()
        assert unsafe_cells(text) == [], key
        seen += text
    assert "'=cmd" in seen
