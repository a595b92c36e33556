"""Usage events as rows for the database: the columns, a row tuple, and PostgreSQL COPY text."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from chargeback.tenancy.models import Organization
from chargeback.usage.models import IngestBatch

if TYPE_CHECKING:
    from chargeback.usage.ingest import Priced

EVENT_COLUMNS = (
    "organization_id", "request_id", "provider_response_id", "occurred_at", "provider", "model",
    "model_raw", "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_input_tokens",
    "reasoning_tokens", "batch", "status_code", "is_error", "retry_of", "attempt", "team", "service",
    "cost_center", "environment", "workflow", "prompt_template", "user_ref", "gateway_key_id",
    "provider_account", "unit_id", "attribution", "price_id", "cost", "currency", "fingerprint",
    "ingest_batch_id", "ingested_at",
)  # fmt: skip


def event_row(org: Organization, batch: IngestBatch, p: Priced, now: dt.datetime) -> tuple:
    d, tags = p.draft, p.draft.tags
    return (
        org.pk, d.request_id, d.provider_response_id, d.occurred_at, p.provider, p.model,
        d.model_raw, d.input_tokens, d.output_tokens, d.cached_input_tokens, d.cache_write_input_tokens,
        d.reasoning_tokens, d.batch, d.status_code, d.is_error, d.retry_of, d.attempt,
        tags.get("team", ""), tags.get("service", ""), tags.get("cost_center", ""),
        tags.get("environment", ""), tags.get("workflow", ""), tags.get("prompt_template", ""),
        d.user_ref, d.gateway_key_id, d.provider_account, p.unit_id, p.method, p.point.price_id,
        p.cost, p.point.currency, d.fingerprint, batch.pk, now,
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


def copy_text(
    org: Organization, batch: IngestBatch, accepted: list[Priced], now: dt.datetime
) -> str:
    """Rows in COPY's text format. Formatted in one go, then checked: if any text holds a tab,
    newline, carriage return or backslash (other than a NULL's), the rows are formatted again
    value by value, escaped."""
    head, tail = f"{org.pk}\t", f"\t{batch.pk}\t{now}\n"
    lines, nulls = [], 0
    for p in accepted:
        d, tags, point = p.draft, p.draft.tags, p.point
        if d.status_code is None:
            status, nulls = "\\N", nulls + 1
        else:
            status = d.status_code
        lines.append(
            f"{head}{d.request_id}\t{d.provider_response_id}\t{d.occurred_at}\t{p.provider}\t"
            f"{p.model}\t{d.model_raw}\t{d.input_tokens}\t{d.output_tokens}\t"
            f"{d.cached_input_tokens}\t{d.cache_write_input_tokens}\t{d.reasoning_tokens}\t"
            f"{'t' if d.batch else 'f'}\t{status}\t{'t' if d.is_error else 'f'}\t{d.retry_of}\t"
            f"{d.attempt}\t{tags.get('team', '')}\t{tags.get('service', '')}\t"
            f"{tags.get('cost_center', '')}\t{tags.get('environment', '')}\t"
            f"{tags.get('workflow', '')}\t{tags.get('prompt_template', '')}\t{d.user_ref}\t"
            f"{d.gateway_key_id}\t{d.provider_account}\t{p.unit_id}\t{p.method}\t"
            f"{point.price_id}\t{p.cost}\t{point.currency}\t{d.fingerprint}{tail}"
        )
    text = "".join(lines)
    tabs = len(EVENT_COLUMNS) - 1
    if (
        text.count("\t") == tabs * len(lines)
        and text.count("\n") == len(lines)
        and text.count("\\") == nulls
        and "\r" not in text
    ):
        return text
    return "".join(
        "\t".join(map(_copy_value, event_row(org, batch, p, now))) + "\n" for p in accepted
    )
