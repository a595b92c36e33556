"""The pipeline's steps for one chunk of records, pure but for one look-up:

1. `validate_chunk`: parse, validate, normalise the model, find the price (no database);
2. `price_chunk`: which request ids are already stored (PostgreSQL, outside the chunk's
   transaction: a hint that spares pricing them, `stored_states`), then price, attribute,
   format the COPY lines and add up the rollup for the others (pure).

The stages (`stages.py` in threads, `preparers.py` in forked processes) run them; the writer
(`writer.py`) commits what they prepare."""

from __future__ import annotations

import json
from typing import Any

import orjson
from django.db import connection

from chargeback.pricing.aliases import normalise
from chargeback.pricing.fallback import find_price
from chargeback.pricing.prices import integer_rates, pico_cost
from chargeback.tenancy.models import Organization
from chargeback.units.attribution import Evidence, attribute
from chargeback.usage import poison
from chargeback.usage.adapters.redact import strip
from chargeback.usage.context import Context, Prepared, Priced, Quarantined, load_context
from chargeback.usage.models import UsageEvent
from chargeback.usage.records import RecordError
from chargeback.usage.rollup import (
    CACHE_HIT_TOKENS,
    CACHED_INPUT,
    COST,
    ERROR_COST,
    ERRORS,
    INPUT,
    OUTPUT,
    REQUESTS,
)
from chargeback.usage.rows import copy_text, names_entry, owner_entry
from chargeback.usage.validation import Reason, validate

MEMO_LIMIT = 20_000  # entries per memo: bounded, whatever the variety of a batch
PRECHECK_MIN = 500  # smaller chunks are not worth a second connection


def check_record(organization: Organization, record: dict[str, Any]) -> list[Reason]:
    """What would quarantine this one record now (validation, model name, price), as the
    pipeline words it; [] if it would go through. Not checked: whether its request_id is
    already stored (a duplicate or a conflicting one), which only the write decides."""
    prepared = validate_chunk(load_context(organization), [(1, record)])
    return prepared.quarantined[0].reasons if prepared.quarantined else []


def validate_chunk(context: Context, chunk: list[tuple[int, Any]]) -> Prepared:
    """Parse, validate, normalise and find the price (no database)."""
    org = context.organization
    now, required_tags, key_defaults = context.now, org.required_tags, context.key_defaults
    names, aliases, find = context.names, context.aliases, context.prices.find
    if len(names) > MEMO_LIMIT:
        names.clear()
    priced: list[Priced] = []
    quarantined: list[Quarantined] = []
    for position, record in chunk:
        try:
            if isinstance(record, RecordError):
                reason = Reason(record.field, record.problem, record.code)
                quarantined.append(Quarantined(position, "", record.raw, [reason]))
                continue
            result = validate(
                record, now=now, required_tags=required_tags, key_defaults=key_defaults
            )
            if isinstance(result, list):
                rid = str(record.get("request_id") or "")[:200]
                quarantined.append(Quarantined(position, rid, raw_text(record), result))
                continue
            name = names.get((result.provider, result.model_raw))
            if name is None:
                name = normalise(result.provider, result.model_raw, aliases)
                names[(result.provider, result.model_raw)] = name
            provider, model = name
            point, method = find_price(find, provider, model, result.occurred_at)
            if point is None or point.currency != org.currency:
                why = (
                    f"no price for {provider}/{model} on {result.occurred_at:%Y-%m-%d}"
                    if point is None
                    else f"the price of {provider}/{model} is in {point.currency}, not {org.currency}"
                )
                reason = Reason("model", why, "no_price")
                quarantined.append(
                    Quarantined(position, result.request_id, raw_text(record), [reason])
                )
                continue
            priced.append(Priced(position, record, result, provider, model, point, method))
        except Exception as exc:  # noqa: BLE001 - one record's problem, never the chunk's
            quarantined.append(poison.quarantined(position, record, exc))
    return Prepared(len(chunk), priced, quarantined)


def price_chunk(
    context: Context, prepared: Prepared, *, precheck: bool, always: bool = False
) -> Prepared:
    """Which of the chunk's ids are stored already, and with what usage (a hint read outside
    the write transaction: a stored event never changes or goes, so what is found is final;
    what is not found is decided again in the transaction), then the others priced,
    attributed, formatted and added up."""
    priced = fresh = prepared.priced
    if precheck and (always or len(priced) >= PRECHECK_MIN):
        states = stored_states(context.organization, priced)
        prepared.prechecked = True
        if "1" in states or "2" in states:
            fresh = [p for p, state in zip(priced, states, strict=True) if state == "0"]
            prepared.repeats = states.count("1")
            prepared.conflicts = [p for p, st in zip(priced, states, strict=True) if st == "2"]
    try:
        text = _priced_text(context, fresh)
    except Exception:  # noqa: BLE001 - some record's problem: found one by one below
        fresh = _without_poison(context, prepared, fresh)
        text = _priced_text(context, fresh)
    prepared.fresh, prepared.totals, prepared.text = fresh, rollup_totals(fresh), text
    return prepared


def _priced_text(context: Context, fresh: list[Priced]) -> str | None:
    """Price, attribute and format the events: their COPY text (PostgreSQL), checked to be
    encodable; None elsewhere."""
    price_and_attribute(context, fresh)
    if not context.copy_ids:
        for p in fresh:
            if not all(map(str.isascii, _texts(p))):
                "".join(_texts(p)).encode("utf-8")
        return None
    text = copy_text(context, fresh)
    if not text.isascii():
        text.encode("utf-8")
    return text


def _texts(p: Priced) -> tuple[str, ...]:
    d = p.draft
    return (
        d.request_id, d.provider_response_id, d.model_raw, d.provider, d.retry_of, d.user_ref,
        d.gateway_key_id, d.provider_account, *d.tags.values(),
    )  # fmt: skip


def _without_poison(context: Context, prepared: Prepared, fresh: list[Priced]) -> list[Priced]:
    """The events that price, attribute and format on their own; the others are added to the
    chunk's quarantined records, each with its reason."""
    kept = []
    for p in fresh:
        try:
            _priced_text(context, [p])
        except Exception as exc:  # noqa: BLE001 - this record's problem
            prepared.quarantined.append(poison.quarantined(p.position, p.raw, exc))
        else:
            kept.append(p)
    return kept


def stored_states(org: Organization, priced: list[Priced]) -> str:
    """One character per event: "0" not stored, "1" stored with the same usage (fingerprint),
    "2" stored with other usage. One query, one text back (PostgreSQL)."""
    try:
        ids = orjson.dumps([p.draft.request_id for p in priced]).decode()
    except TypeError:  # not UTF-8 (a lone surrogate): no hint, decided in the transaction
        return "0" * len(priced)
    fingerprints = orjson.dumps([p.draft.fingerprint for p in priced]).decode()
    with connection.cursor() as cursor:
        if not getattr(connection, "_ingest_planned", False):
            # This thread's own connection, closed after the batch: always one unique-index
            # probe per id, even when stale statistics make a growing organisation look small.
            cursor.execute(
                "SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_bitmapscan = off"
            )
            connection._ingest_planned = True
        cursor.cursor.execute(
            "SELECT string_agg(CASE WHEN e.fingerprint IS NULL THEN '0' "  # noqa: S608
            "WHEN e.fingerprint = r.fp THEN '1' ELSE '2' END, '' ORDER BY r.n) "
            "FROM (SELECT %s::bigint AS org, x.* FROM ROWS FROM (json_array_elements_text(%s::json), "
            "json_array_elements_text(%s::json)) WITH ORDINALITY AS x(id, fp, n) OFFSET 0) r "
            f"LEFT JOIN {UsageEvent._meta.db_table} e "
            "ON (e.organization_id, e.request_id) = (r.org, r.id)",
            [org.pk, ids, fingerprints],
        )
        states = cursor.cursor.fetchone()[0] or ""
    return states if len(states) == len(priced) else "0" * len(priced)


def price_and_attribute(context: Context, accepted: list[Priced]) -> None:
    """Fill in each event's cost, owning unit, rollup key and (PostgreSQL) COPY line (pure;
    attribution, the rates in integers and the COPY segments memoised per batch)."""
    owners, segments, directory, rates = (
        context.owners, context.segments, context.directory, context.rates,
    )  # fmt: skip
    if len(owners) > MEMO_LIMIT:
        owners.clear()
    if len(segments) > MEMO_LIMIT:
        segments.clear()
    local_day = context.local_day
    for p in accepted:
        d, point = p.draft, p.point
        # price: pricing.prices.cost, in integers when the rates allow it (exact)
        r = rates.get(point.price_id)
        if r is None:
            r = rates[point.price_id] = integer_rates(point.rates)
        p.pico = (
            pico_cost(
                point.rates,
                r,
                d.input_tokens,
                d.output_tokens,
                d.cached_input_tokens,
                d.cache_write_input_tokens,
                d.batch,
            )
            if not d.cache_hit
            else 0
        )  # fmt: skip  (a cache hit is counted, never charged)
        # attribute
        key = (p.provider, d.gateway_key_id, d.provider_account, *d.tags.items())
        owner = owners.get(key)
        if owner is None:
            evidence = Evidence(
                p.provider, d.tags, d.gateway_key_id or None, d.provider_account or None
            )
            unit_id, method = attribute(evidence, directory)
            owner = owners[key] = owner_entry(d, unit_id, method)
        p.unit_id, p.method = owner.unit_id, owner.method
        names = segments.get((point.price_id, d.model_raw, p.provider))
        if names is None:
            names = segments[(point.price_id, d.model_raw, p.provider)] = names_entry(p)
        p.key = (local_day(d), owner, names)


def rollup_totals(priced: list[Priced]) -> dict[tuple, list[int]]:
    """Rollup increments of events, keyed by their rollup keys: sums in the order of
    rollup.ROLLUP_SUMS, with costs in units of 10^-12."""
    requests, errors, inp, out, cached, cost, error_cost, hit = (
        REQUESTS, ERRORS, INPUT, OUTPUT, CACHED_INPUT, COST, ERROR_COST, CACHE_HIT_TOKENS,
    )  # fmt: skip
    totals: dict[tuple, list[int]] = {}
    for p in priced:
        d = p.draft
        t = totals.get(p.key)
        if t is None:
            t = totals[p.key] = [0, 0, 0, 0, 0, 0, 0, 0]
        t[requests] += 1
        t[inp] += d.input_tokens
        t[out] += d.output_tokens
        t[cached] += d.cached_input_tokens
        t[cost] += p.pico
        if d.cache_hit:  # counted as a request and in the token sums; outside tier volume
            t[hit] += d.input_tokens + d.output_tokens
        if d.is_error:
            t[errors] += 1
            t[error_cost] += p.pico
    return totals


def slim(prepared: Prepared, raw: bytes, first_line: int) -> Prepared:
    """What a preparer process sends for a prechecked chunk: no per-event objects (pickling
    them costs more than making them), the conflicts already worded as quarantined records."""
    assert prepared.prechecked and prepared.fresh is not None
    quarantined = list(prepared.quarantined) + [conflict(p) for p in prepared.conflicts]
    return Prepared(
        size=prepared.size, priced=[], quarantined=quarantined, repeats=prepared.repeats,
        fresh=None, prechecked=True, text=prepared.text, totals=prepared.totals,
        fresh_count=len(prepared.fresh), raw=raw, first_line=first_line,
    )  # fmt: skip


def conflict(p: Priced) -> Quarantined:
    """An event whose request id is stored with other usage, as a quarantined record."""
    reason = Reason(
        "request_id",
        f'"{p.draft.request_id}" was already ingested with different usage',
        "conflicting_duplicate",
    )
    return Quarantined(p.position, p.draft.request_id, raw_text(p.raw), [reason])


def raw_text(record: Any) -> str:
    """A record's text as quarantine keeps it: never with message text (`redact.strip`)."""
    return (
        record.raw
        if isinstance(record, RecordError)
        else json.dumps(strip(record), default=str, sort_keys=True)
    )
