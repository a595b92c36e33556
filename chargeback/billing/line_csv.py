"""The requests behind a statement line as CSV, for the team that disputes or checks it: one
row per request, its exact cost and currency, streamed through the formula-safe writer
(chargeback.safecsv: a cell starting with = + - @ | % or a tab/CR is neutralised)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from chargeback import safecsv as csv
from chargeback.tenancy.models import Organization
from chargeback.tenancy.scoping import within
from chargeback.usage.models import UsageEvent

COLUMNS = (
    "request_id",
    "occurred_at",
    "service",
    "workflow",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "cost",
    "currency",
    "status_code",
    "failed",
    "attempt",
    "attribution",
    "price_version",
)
FIELDS = (
    "request_id",
    "occurred_at",
    "service",
    "workflow",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "cost",
    "status_code",
    "is_error",
    "attempt",
    "attribution",
    "price__version__number",
)


def event_rows(events: QuerySet[UsageEvent], currency: str, tz: ZoneInfo) -> Iterator[list[object]]:
    """The header, then one row per event, oldest first (times in the organisation's zone,
    costs exact)."""
    yield list(COLUMNS)
    for values in events.order_by("occurred_at", "pk").values_list(*FIELDS).iterator(2000):
        row = dict(zip(FIELDS, values, strict=True))
        at: dt.datetime = row["occurred_at"]
        yield [
            row["request_id"],
            at.astimezone(tz).isoformat(),
            row["service"],
            row["workflow"],
            row["provider"],
            row["model"],
            row["input_tokens"],
            row["output_tokens"],
            row["cached_input_tokens"],
            row["cache_write_input_tokens"],
            format(row["cost"].normalize(), "f") if row["cost"] else "0",
            currency,
            row["status_code"] if row["status_code"] is not None else "",
            "yes" if row["is_error"] else "no",
            row["attempt"],
            row["attribution"],
            row["price__version__number"] or "",
        ]


class _Line:
    """A file-like object whose write returns the text, for streaming csv.writer rows."""

    def write(self, text: str) -> str:
        return text


def stream(rows: Iterable[list[object]], org: Organization) -> Iterator[str]:
    """The rows as CSV text, read inside `org`'s scope: a streamed response is consumed after
    the view (and the request's scope) has returned."""
    writer = csv.writer(_Line(), lineterminator="\n")
    with within(org):
        for row in rows:
            yield writer.writerow(row)
