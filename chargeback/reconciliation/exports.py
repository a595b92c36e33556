"""Exports for BI and ERP tools, streamed without loading everything into memory: the raw
events as CSV or NDJSON, and FOCUS (the FinOps Foundation's billing format): one row per unit,
day, provider and model, in FOCUS 1.3 (default) or 1.0. CSV goes through defusedcsv, safe from
spreadsheet formula injection. Custom columns start with `x_`."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import TextIO

from django.db.models import Aggregate, CharField, Sum

from chargeback import safecsv as csv
from chargeback.calendar import Period, end_of_day, local_today, start_of_day
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit
from chargeback.usage.models import DailyUsage, UsageEvent

SINCE = re.compile(r"(\d{1,4})d")
CHUNK = 2000
EVENT_COLUMNS = (
    "request_id", "occurred_at", "provider", "model", "model_raw", "input_tokens",
    "output_tokens", "cached_input_tokens", "cache_write_input_tokens", "batch", "status_code",
    "is_error", "unit", "attribution", "team", "service", "cost_center", "environment",
    "workflow", "prompt_template", "gateway_key_id", "cost", "currency",
)  # fmt: skip
FOCUS_10 = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart",
    "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountType", "ConsumedQuantity", "ConsumedUnit", "ContractedCost",
    "ContractedUnitPrice", "EffectiveCost",
    "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity",
    "PricingUnit", "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId",
    "ResourceName", "ResourceType", "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId",
    "SubAccountId", "SubAccountName", "Tags",
)  # fmt: skip
# The FinOps Foundation's focus-validator 1.0.0 checks its "1.0" rule set with a few names of
# the FOCUS 1.0 preview that the published 1.0 renamed (InvoiceIssuer -> InvoiceIssuerName,
# Provider -> ProviderName, Publisher -> PublisherName, ResourceID -> ResourceId, ChargeType ->
# ChargeCategory), and CommitmentDiscountStatus (which FOCUS 1.1 added). The 1.0 export carries
# them beside the published names, with the same values, so that it passes every rule.
FOCUS_10_VALIDATOR = (
    "ChargeType", "CommitmentDiscountStatus", "InvoiceIssuer", "Provider", "Publisher",
    "ResourceID",
)  # fmt: skip
FOCUS_13_ADDED = (  # by FOCUS 1.1 to 1.3
    "CommitmentDiscountStatus", "ServiceProviderName", "HostProviderName", "ServiceSubcategory",
    "AllocatedMethodId", "AllocatedMethodDetails", "AllocatedResourceId",
    "AllocatedResourceName", "AllocatedTags",
)  # fmt: skip
CUSTOM = ("x_UnitCode", "x_Model", "x_Requests", "x_InputTokens", "x_OutputTokens",
          "x_AttributionMethods")  # fmt: skip


class ExportError(ValueError):
    """The export cannot be made as asked (a bad window or FOCUS version); the message says why."""


class DistinctList(Aggregate):
    """The distinct values of a text column in a group, joined by commas (in no set order), so
    that the FOCUS rows stream straight from one GROUP BY with nothing kept per group."""

    function = "GROUP_CONCAT"
    template = "%(function)s(DISTINCT %(expressions)s)"
    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, function="STRING_AGG",
            template="%(function)s(DISTINCT %(expressions)s, ',')", **extra_context,
        )  # fmt: skip


def parse_since(text: str, organization: Organization, today: dt.date | None = None) -> dt.date:
    """`30d` (the last 30 days, today included) or a date `YYYY-MM-DD`."""
    today = today or local_today(organization.tz)
    match = SINCE.fullmatch(text.strip())
    if match:
        return today - dt.timedelta(days=max(int(match.group(1)) - 1, 0))
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ExportError(f'since: "{text[:40]}" is not a number of days (30d) or a date') from None


def focus_columns(version: str) -> tuple[str, ...]:
    if version == "1.0":
        return FOCUS_10 + FOCUS_10_VALIDATOR + CUSTOM
    if version == "1.3":
        return FOCUS_10 + FOCUS_13_ADDED + CUSTOM
    raise ExportError(f'focus-version: "{version}" is not 1.3 or 1.0')


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _events(organization: Organization, since: dt.date, until=None, unit_ids=None):
    rows = UsageEvent.objects.filter(
        organization=organization, occurred_at__gte=start_of_day(since, organization.tz)
    )
    if until is not None:
        rows = rows.filter(occurred_at__lte=end_of_day(until, organization.tz))
    if unit_ids is not None:
        rows = rows.filter(unit_id__in=sorted(unit_ids))
    return rows.order_by("occurred_at", "pk").values_list(
        *[c if c != "unit" else "unit__code" for c in EVENT_COLUMNS]
    )


def _plain(value: object) -> object:
    if isinstance(value, dt.datetime):
        return _utc(value)
    if isinstance(value, Decimal):
        return f"{value:f}"
    return value


class _Echo:
    """A file-like object whose write returns the text, for streaming csv rows."""

    def write(self, text: str) -> str:
        return text


def event_lines(
    organization: Organization, since: dt.date, fmt: str, until=None, unit_ids=None
) -> Iterator[str]:
    """The events from `since` (to `until`, of `unit_ids`; None: all) as CSV or NDJSON lines,
    header first for CSV."""
    rows = _events(organization, since, until, unit_ids).iterator(chunk_size=CHUNK)
    if fmt == "csv":
        writer = csv.writer(_Echo(), lineterminator="\n")
        yield writer.writerow(EVENT_COLUMNS)
        for row in rows:
            yield writer.writerow([_plain(v) for v in row])
        return
    for row in rows:
        yield json.dumps(dict(zip(EVENT_COLUMNS, map(_plain, row), strict=True))) + "\n"


def focus_lines(
    organization: Organization, since: dt.date, version: str, until=None, unit_ids=None
) -> Iterator[str]:
    writer = csv.writer(_Echo(), lineterminator="\n")
    for row in focus_rows(organization, since, version, until, unit_ids):
        yield writer.writerow(row)


def export_lines(
    organization: Organization, fmt: str, version: str, since: dt.date, until=None, unit_ids=None
) -> Iterator[str]:
    """Any export's lines: the events as CSV (header first) or NDJSON, or FOCUS rows."""
    if fmt == "focus":
        return focus_lines(organization, since, version, until, unit_ids)
    return event_lines(organization, since, fmt, until, unit_ids)


def write_events(out: TextIO, organization: Organization, since: dt.date, fmt: str) -> int:
    """Write the events since `since` as CSV or NDJSON; the number of rows written."""
    count = -1 if fmt == "csv" else 0
    for line in event_lines(organization, since, fmt):
        out.write(line)
        count += 1
    return count


def _daily(organization: Organization, since: dt.date, until=None, unit_ids=None):
    daily = DailyUsage.objects.filter(organization=organization, day__gte=since)
    if until is not None:
        daily = daily.filter(day__lte=until)
    if unit_ids is not None:
        daily = daily.filter(unit_id__in=sorted(unit_ids))
    return daily


def export_rows(
    organization: Organization, fmt: str, since: dt.date, until=None, unit_ids=None
) -> int:
    """How many rows (header aside) an export will have: events, or FOCUS groups."""
    if fmt != "focus":
        return _events(organization, since, until, unit_ids).count()
    return (
        _daily(organization, since, until, unit_ids)
        .values("day", "unit_id", "provider", "model")
        .distinct()
        .count()
    )


def focus_rows(
    organization: Organization, since: dt.date, version: str, until=None, unit_ids=None
) -> Iterator[list]:
    """The FOCUS rows (header first): one per unit, day, provider and model, each group summed
    by the database and read in chunks (only the units are held, not the groups)."""
    columns = focus_columns(version)
    yield list(columns)
    tz, currency = organization.tz, organization.currency
    units = {
        u.pk: u for u in BusinessUnit.objects.filter(organization=organization).only("code", "name")
    }
    groups = (
        _daily(organization, since, until, unit_ids)
        .values("day", "unit_id", "provider", "model")
        .annotate(
            cost=Sum("cost"),
            requests=Sum("requests"),
            input=Sum("input_tokens"),
            output=Sum("output_tokens"),
            methods=DistinctList("attribution"),
        )  # fmt: skip
        .order_by("day", "unit_id", "provider", "model")
    )
    for g in groups.iterator(chunk_size=CHUNK):
        unit = units[g["unit_id"]]
        period = Period.of(g["day"])
        cost = f"{(g['cost'] or Decimal(0)):f}"
        tokens = (g["input"] or 0) + (g["output"] or 0)
        quantity = f"{tokens}.0"  # a decimal, as FOCUS types it (validators read "12" as integer)
        sku = f"{g['provider']}/{g['model']}"
        row = {
            "BilledCost": cost, "EffectiveCost": cost, "ListCost": cost, "ContractedCost": cost,
            "BillingAccountId": organization.slug, "BillingAccountName": organization.name,
            "BillingCurrency": currency,
            "BillingPeriodStart": _utc(start_of_day(period.first, tz)),
            "BillingPeriodEnd": _utc(end_of_day(period.last, tz)),
            "ChargeCategory": "Usage", "ChargeClass": "",
            "ChargeDescription": f"{sku} usage of {unit.code}",
            "ChargeFrequency": "Usage-Based",
            "ChargePeriodStart": _utc(start_of_day(g["day"], tz)),
            "ChargePeriodEnd": _utc(end_of_day(g["day"], tz)),
            "CommitmentDiscountCategory": "", "CommitmentDiscountId": "",
            "CommitmentDiscountName": "", "CommitmentDiscountType": "",  # no commitments
            "CommitmentDiscountStatus": "",
            "ConsumedQuantity": quantity, "ConsumedUnit": "Tokens",
            "PricingQuantity": quantity, "PricingUnit": "Tokens", "PricingCategory": "Standard",
            "ContractedUnitPrice": "", "ListUnitPrice": "",
            "InvoiceIssuerName": g["provider"], "ProviderName": g["provider"],
            "PublisherName": g["provider"], "InvoiceIssuer": g["provider"],
            "Provider": g["provider"], "Publisher": g["provider"], "ChargeType": "Usage",
            "ServiceProviderName": g["provider"],
            "HostProviderName": g["provider"],
            "RegionId": "", "RegionName": "", "ResourceId": "", "ResourceID": "",
            "ResourceName": "",
            "ResourceType": "", "ServiceCategory": "AI and Machine Learning",
            "ServiceSubcategory": "Generative AI", "ServiceName": g["provider"],
            "SkuId": sku, "SkuPriceId": f"{sku}/standard",  # the one price of the model
            "SubAccountId": unit.code, "SubAccountName": unit.name,
            "Tags": json.dumps({"x_cost_center": unit.code}),
            "AllocatedMethodId": "chargeback-attribution",
            "AllocatedMethodDetails": json.dumps(
                {"Elements": [{"AllocatedRatio": 1, "UsageUnit": "Tokens",
                               "UsageQuantity": tokens}]}  # fmt: skip
            ),
            "AllocatedResourceId": unit.code, "AllocatedResourceName": unit.name,
            "AllocatedTags": json.dumps({"x_cost_center": unit.code}),
            "x_UnitCode": unit.code, "x_Model": g["model"], "x_Requests": str(g["requests"] or 0),
            "x_InputTokens": str(g["input"] or 0), "x_OutputTokens": str(g["output"] or 0),
            "x_AttributionMethods": ",".join(sorted(set((g["methods"] or "").split(",")))),
        }  # fmt: skip
        yield [row[c] for c in columns]


def write_focus(out: TextIO, organization: Organization, since: dt.date, version: str) -> int:
    writer = csv.writer(out, lineterminator="\n")
    count = -1
    for row in focus_rows(organization, since, version):
        writer.writerow(row)
        count += 1
    return count
