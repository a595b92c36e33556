"""Usage events as rows for the database: the columns, a row tuple, and PostgreSQL COPY text.

The columns are ordered so that a COPY line is the event's own values, then two segments
memoised per batch (`names_entry`: what the price and the raw model name fix; `owner_entry`:
what the attribution evidence fixes), then the organisation, the batch and the time."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, NamedTuple

from django.utils import timezone

from chargeback.tenancy.models import Organization
from chargeback.usage.models import IngestBatch

if TYPE_CHECKING:
    from chargeback.usage.context import Context, Priced
    from chargeback.usage.validation import Draft

EVENT_COLUMNS = (
    "request_id", "provider_response_id", "occurred_at", "input_tokens", "output_tokens",
    "cached_input_tokens", "cache_write_input_tokens", "reasoning_tokens", "batch", "status_code",
    "is_error", "retry_of", "attempt", "user_ref", "cost", "fingerprint", "cache_hit",
    # names_entry
    "provider", "model", "model_raw", "price_id", "currency", "price_method",
    # owner_entry
    "team", "service", "cost_center", "environment", "workflow", "prompt_template",
    "gateway_key_id", "provider_account", "unit_id", "attribution",
    # the chunk's
    "organization_id", "ingest_batch_id", "ingested_at",
)  # fmt: skip
TABS = len(EVENT_COLUMNS) - 1
PICO = 10**12


def event_row(org: Organization, batch: IngestBatch, p: Priced, now: dt.datetime) -> tuple:
    d, tags, point = p.draft, p.draft.tags, p.point
    return (
        d.request_id, d.provider_response_id, d.occurred_at, d.input_tokens, d.output_tokens,
        d.cached_input_tokens, d.cache_write_input_tokens, d.reasoning_tokens, d.batch,
        d.status_code, d.is_error, d.retry_of, d.attempt, d.user_ref, p.cost, d.fingerprint,
        d.cache_hit, p.provider, p.model, d.model_raw, point.price_id, point.currency,
        p.price_method,
        tags.get("team", ""), tags.get("service", ""), tags.get("cost_center", ""),
        tags.get("environment", ""), tags.get("workflow", ""), tags.get("prompt_template", ""),
        d.gateway_key_id, d.provider_account, p.unit_id, p.method,
        org.pk, batch.pk, now,
    )  # fmt: skip


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    return str(value)


class Owner(NamedTuple):
    """Everything fixed by an event's attribution evidence (provider, gateway key, provider
    account, tags): its unit and how it was found, the rollup's service and environment, and
    the owner columns as a COPY segment."""

    unit_id: int
    method: str
    service: str
    environment: str
    segment: str
    escapes: int  # backslashes in `segment`


class Names(NamedTuple):
    """Everything fixed by an event's price, provider and raw model name."""

    provider: str
    model: str
    segment: str  # the names columns, a COPY segment
    escapes: int  # backslashes in `segment`


def owner_entry(d: Draft, unit_id: int, method: str) -> Owner:
    """The event's `Owner`, once attributed."""
    tags = d.tags
    values = (
        tags.get("team", ""), tags.get("service", ""), tags.get("cost_center", ""),
        tags.get("environment", ""), tags.get("workflow", ""), tags.get("prompt_template", ""),
        d.gateway_key_id, d.provider_account, unit_id, method,
    )  # fmt: skip
    segment = "\t".join(map(_copy_value, values))
    return Owner(
        unit_id, method, tags.get("service", ""), tags.get("environment", ""),
        segment, segment.count("\\"),
    )  # fmt: skip


def names_entry(p: Priced) -> Names:
    """The event's `Names`, once priced."""
    values = (
        p.provider, p.model, p.draft.model_raw, p.point.price_id, p.point.currency, p.price_method,
    )  # fmt: skip
    segment = "\t".join(map(_copy_value, values))
    return Names(p.provider, p.model, segment, segment.count("\\"))


def cost_text(pico: int) -> str:
    units, fraction = divmod(pico, PICO)
    return f"{units}.{fraction:012d}"


def copy_text(context: Context, priced: list[Priced]) -> str:
    """The events' rows in COPY's text format, and each event's `line`. Formatted in one go,
    then checked: if the text of any event's own strings (request id, response id, retry of,
    user) holds a tab, newline, carriage return or backslash, the rows are formatted again
    with those escaped. The memoised segments are escaped when they are made."""
    tail = f"{context.copy_ids}{timezone.now().isoformat()}\n"
    nulls = 0
    lines = []
    for p in priced:
        d = p.draft
        _day, owner, names = p.key
        status = d.status_code
        if status is None:
            status = "\\N"
            nulls += 1
        nulls += owner.escapes + names.escapes
        units, fraction = divmod(p.pico, PICO)
        p.line = line = (
            f"{d.request_id}\t{d.provider_response_id}\t{d.occurred_iso}\t{d.input_tokens}\t"
            f"{d.output_tokens}\t{d.cached_input_tokens}\t{d.cache_write_input_tokens}\t"
            f"{d.reasoning_tokens}\t{'t' if d.batch else 'f'}\t{status}\t"
            f"{'t' if d.is_error else 'f'}\t{d.retry_of}\t{d.attempt}\t{d.user_ref}\t"
            f"{units}.{fraction:012d}\t{d.fingerprint}\t{'t' if d.cache_hit else 'f'}\t"
            f"{names.segment}\t{owner.segment}{tail}"
        )
        lines.append(line)
    text = "".join(lines)
    if (
        text.count("\t") == TABS * len(lines)
        and text.count("\n") == len(lines)
        and text.count("\\") == nulls
        and "\r" not in text
    ):
        return text
    for p in priced:
        d = p.draft
        _day, owner, names = p.key
        p.line = "\t".join(
            (
                *map(_copy_value, (d.request_id, d.provider_response_id)), d.occurred_iso,
                *map(_copy_value, (
                    d.input_tokens, d.output_tokens, d.cached_input_tokens,
                    d.cache_write_input_tokens, d.reasoning_tokens, d.batch, d.status_code,
                    d.is_error, d.retry_of, d.attempt, d.user_ref,
                )),
                cost_text(p.pico), d.fingerprint, _copy_value(d.cache_hit), names.segment,
                owner.segment,
            )
        ) + tail  # fmt: skip
    return "".join(p.line for p in priced)
