"""export_events: events as CSV and NDJSON, FOCUS 1.3 and 1.0 rows with the spec's required
columns and types, formula-safe CSV, and an empty range is the header only."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from chargeback.reconciliation.exports import FOCUS_10, parse_since
from tests.usage.conftest import event, ingest

# FOCUS 1.0's mandatory columns and their types (the spec's column list).
DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
FOCUS_REQUIRED = {
    "BilledCost": "decimal", "BillingAccountId": "string", "BillingAccountName": "string",
    "BillingCurrency": "currency", "BillingPeriodEnd": "datetime",
    "BillingPeriodStart": "datetime", "ChargeCategory": "string", "ChargeDescription": "string",
    "ChargePeriodEnd": "datetime", "ChargePeriodStart": "datetime", "ContractedCost": "decimal",
    "EffectiveCost": "decimal", "InvoiceIssuerName": "string", "ListCost": "decimal",
    "ProviderName": "string", "PublisherName": "string", "ServiceCategory": "string",
    "ServiceName": "string",
}  # fmt: skip
FOCUS_13_ONLY = {
    "ServiceProviderName", "HostProviderName", "ServiceSubcategory", "AllocatedMethodId",
    "AllocatedMethodDetails", "AllocatedResourceId", "AllocatedResourceName", "AllocatedTags",
}  # fmt: skip
PREVIEW_NAMES = {"ChargeType", "InvoiceIssuer", "Provider", "Publisher", "ResourceID"}


def _export(org, tmp_path, *args) -> str:
    path = tmp_path / "out.data"
    out = io.StringIO()
    call_command("export_events", "--org", org.slug, "--output", str(path), *args, stdout=out)
    assert out.getvalue().startswith("exported ")
    return path.read_text()


def _check_type(kind: str, value: str) -> None:
    assert value != "", kind
    if kind == "decimal":
        Decimal(value)
    elif kind == "datetime":
        assert DATETIME.fullmatch(value), value
    elif kind == "currency":
        assert re.fullmatch(r"[A-Z]{3}", value)


def test_events_as_csv_and_ndjson_formula_safe(metered, tmp_path):
    ingest(metered, [event("evil-1", occurred_at="2026-10-09T10:00:00Z", provider="internal",
                           model="flat", tags={"workflow": "=HYPERLINK(\"http://x\")"})])  # fmt: skip
    text = _export(metered, tmp_path, "--since", "2026-10-01", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 6
    assert sum(Decimal(r["cost"]) for r in rows) > 0
    evil = next(r for r in rows if r["request_id"] == "evil-1")
    assert evil["workflow"].startswith("'=")  # defused
    lines = _export(metered, tmp_path, "--since", "2026-10-01", "--format", "ndjson").splitlines()
    assert len(lines) == 6 and json.loads(lines[0])["occurred_at"].endswith("Z")


@pytest.mark.parametrize("version", ["1.3", "1.0"])
def test_focus_rows_have_the_required_columns_and_types(metered, tmp_path, version):
    text = _export(metered, tmp_path, "--since", "2026-10-01", "--format", "focus",
                   "--focus-version", version)  # fmt: skip
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames
    assert set(FOCUS_REQUIRED) <= set(header) and set(FOCUS_10) <= set(header)
    extra = set(header) - set(FOCUS_10) - {c for c in header if c.startswith("x_")}
    if version == "1.3":  # the columns FOCUS 1.1 to 1.3 added
        assert extra == FOCUS_13_ONLY | {"CommitmentDiscountStatus"}
    else:  # the preview names focus-validator's 1.0 rules check (renamed in 1.0 and 1.3)
        assert extra == PREVIEW_NAMES | {"CommitmentDiscountStatus"}
    rows = list(reader)
    # one row per unit, day, provider and model: SUP on the 5th, SALES on the 6th
    assert sorted((r["x_UnitCode"], r["ChargePeriodStart"][:10]) for r in rows) == [
        ("SALES", "2026-10-05"),
        ("SUP", "2026-10-04"),
    ]  # fmt: skip (Berlin midnight is 22:00 UTC the day before)
    for row in rows:
        for column, kind in FOCUS_REQUIRED.items():
            _check_type(kind, row[column])
        assert row["ChargeCategory"] == "Usage"
        assert row["SkuPriceId"] == f"{row['SkuId']}/standard"  # not null for usage
        assert row["x_AttributionMethods"] == "team_tag"  # the group's methods, from SQL
        if version == "1.0":  # the preview names carry the published names' values
            assert (row["InvoiceIssuer"], row["Provider"], row["Publisher"]) == (
                row["InvoiceIssuerName"], row["ProviderName"], row["PublisherName"]
            )  # fmt: skip
            assert (row["ChargeType"], row["ResourceID"]) == ("Usage", row["ResourceId"])
    assert sum(Decimal(r["BilledCost"]) for r in rows) == Decimal("6.9")


def test_an_empty_range_is_the_header_only_and_bad_flags_are_named(metered, tmp_path):
    text = _export(metered, tmp_path, "--since", "2030-01-01", "--format", "focus")
    assert text.count("\n") == 1 and text.startswith("BilledCost,")
    assert _export(metered, tmp_path, "--since", "2030-01-01").startswith("request_id,")
    with pytest.raises(CommandError, match=r'^since: "soon" is not a number of days'):
        _export(metered, tmp_path, "--since", "soon")


def test_since_in_days_counts_today():
    class Org:
        tz = dt.UTC

    assert parse_since("30d", Org(), today=dt.date(2026, 10, 31)) == dt.date(2026, 10, 2)
    assert parse_since("1d", Org(), today=dt.date(2026, 10, 31)) == dt.date(2026, 10, 31)


def test_a_focus_row_names_every_attribution_method_of_its_group(metered, tmp_path):
    ingest(metered, [event("svc-1", occurred_at="2026-10-05T11:00:00Z", provider="internal",
                           model="flat", tags={"service": "ticket-summarizer"})])  # fmt: skip
    text = _export(metered, tmp_path, "--since", "2026-10-01", "--format", "focus")
    rows = {r["x_UnitCode"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["SUP"]["x_AttributionMethods"] == "service,team_tag"
    assert rows["SUP"]["x_Requests"] == "4" and rows["SALES"]["x_AttributionMethods"] == "team_tag"
