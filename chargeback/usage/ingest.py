"""The ingestion operation: a stored batch -> validated, normalised, attributed, priced events,
written in bulk with their rollup and the batch counts, one committed chunk at a time.

Each chunk commits its events, quarantined records, rollup increments and the batch's
`records_done` together, so a worker that dies mid-batch loses nothing: the re-run skips the
committed records and redoes the rest. Duplicates are decided in the database (the unique
(organization, request_id) and a per-organisation lock while a chunk is written)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from chargeback.pricing.aliases import normalise
from chargeback.pricing.books import price_index
from chargeback.pricing.index import PriceIndex
from chargeback.pricing.models import ModelAlias
from chargeback.pricing.prices import Usage, cost
from chargeback.tenancy.models import Organization
from chargeback.units.attribution import Directory, Evidence, attribute
from chargeback.units.models import GatewayKey
from chargeback.units.queries import attribution_directory
from chargeback.usage.models import BatchStatus, IngestBatch, QuarantinedEvent, UsageEvent
from chargeback.usage.records import PayloadError, RecordError, read_records
from chargeback.usage.validation import Draft, Reason, validate

log = logging.getLogger(__name__)
CHUNK_SIZE = settings.INGEST_CHUNK_SIZE


@dataclass
class Context:
    organization: Organization
    now: dt.datetime
    directory: Directory
    prices: PriceIndex
    aliases: dict[tuple[str, str], tuple[str, str]]
    key_defaults: dict[str, dict[str, str]]


def load_context(organization: Organization) -> Context:
    keys = GatewayKey.objects.filter(organization=organization, archived=False).select_related(
        "service"
    )
    return Context(
        organization=organization,
        now=timezone.now(),
        directory=attribution_directory(organization),
        prices=price_index(organization),
        aliases={
            (a.provider, a.raw.lower()): (a.canonical_provider, a.canonical_model)
            for a in ModelAlias.objects.filter(organization=organization)
        },
        key_defaults={
            k.key_id: {
                "service": k.service.name if k.service_id else "",
                "environment": k.environment,
            }
            for k in keys
        },
    )


# Creating batches ----------------------------------------------------------------------------


def create_batch(
    *,
    organization: Organization,
    payload: bytes | IO[bytes],
    fmt: str,
    source: str,
    filename: str = "",
    created_by: str = "",
) -> IngestBatch:
    """Store the raw payload and a `received` batch. Processing is scheduled on commit."""
    with transaction.atomic():
        batch = IngestBatch.objects.create(
            organization=organization,
            source=source,
            format=fmt,
            filename=filename[:300],
            created_by=created_by[:254],
        )
        content = ContentFile(payload) if isinstance(payload, bytes) else File(payload)
        batch.payload.save(f"{batch.pk}.{fmt}", content, save=False)
        batch.size_bytes = batch.payload.size
        batch.save(update_fields=["payload", "size_bytes"])
        from chargeback.usage.tasks import process_batch_task

        transaction.on_commit(lambda: process_batch_task.delay(batch.pk))
    return batch


# Processing ----------------------------------------------------------------------------------


def process_batch(batch_id: int) -> IngestBatch:
    """Process (or resume) a batch. Safe to call any number of times."""
    with scopes_disabled():
        batch = IngestBatch.objects.select_related("organization").get(pk=batch_id)
    if batch.status in (BatchStatus.DONE, BatchStatus.FAILED):
        return batch
    if not batch.payload:
        IngestBatch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.FAILED, error="the payload is missing"
        )
        batch.refresh_from_db()
        return batch
    organization = batch.organization
    with scope(organization=organization):
        IngestBatch.objects.filter(
            pk=batch.pk, status__in=[BatchStatus.RECEIVED, BatchStatus.PROCESSING]
        ).update(status=BatchStatus.PROCESSING, started_at=batch.started_at or timezone.now())
        context = load_context(organization)
        offset = batch.records_done
        try:
            with batch.payload.open("rb") as stream:
                records = read_records(stream, batch.format)
                records = islice(records, offset, None)
                for chunk in _chunks(records, CHUNK_SIZE):
                    _commit_chunk(batch, context, chunk, offset)
                    offset += len(chunk)
        except ChunkTaken:
            log.info(
                "batch %s: another process is ahead at record %s; leaving it", batch.pk, offset
            )
            batch.refresh_from_db()
            return batch
        except PayloadError as exc:
            IngestBatch.objects.filter(pk=batch.pk).update(
                status=BatchStatus.FAILED, error=str(exc), finished_at=timezone.now()
            )
        else:
            IngestBatch.objects.filter(pk=batch.pk).update(
                status=BatchStatus.DONE, finished_at=timezone.now()
            )
        batch.refresh_from_db()
    return batch


def _chunks(records: Iterable, size: int) -> Iterator[list]:
    iterator = iter(records)
    while chunk := list(islice(iterator, size)):
        yield chunk


@dataclass
class Priced:
    position: int
    raw: dict[str, Any]
    draft: Draft
    provider: str
    model: str
    price_id: int
    currency: str
    cost: Decimal
    unit_id: int
    method: str


def _raw_text(record: Any) -> str:
    return (
        record.raw
        if isinstance(record, RecordError)
        else json.dumps(record, default=str, sort_keys=True)
    )


def prepare(
    context: Context, chunk: list[tuple[int, Any]]
) -> tuple[list[Priced], list[tuple[int, str, str, list[Reason]]]]:
    """Parse, validate, normalise, price and attribute (no database). -> (priced, quarantined)."""
    org = context.organization
    priced: list[Priced] = []
    quarantined: list[tuple[int, str, str, list[Reason]]] = []
    for position, record in chunk:
        if isinstance(record, RecordError):
            quarantined.append(
                (position, "", record.raw, [Reason(record.field, record.problem, record.code)])
            )
            continue
        result = validate(
            record,
            now=context.now,
            required_tags=org.required_tags,
            key_defaults=context.key_defaults,
        )
        if isinstance(result, list):
            rid = str(record.get("request_id") or "")[:200]
            quarantined.append((position, rid, _raw_text(record), result))
            continue
        provider, model = normalise(result.provider, result.model_raw, context.aliases)
        point = context.prices.find(provider, model, result.occurred_at)
        if point is None or point.currency != org.currency:
            why = (
                f"no price for {provider}/{model} on {result.occurred_at:%Y-%m-%d}"
                if point is None
                else f"the price of {provider}/{model} is in {point.currency}, not {org.currency}"
            )
            quarantined.append(
                (position, result.request_id, _raw_text(record), [Reason("model", why, "no_price")])
            )
            continue
        usage = Usage(
            result.input_tokens, result.output_tokens, result.cached_input_tokens,
            result.cache_write_input_tokens, result.batch,
        )  # fmt: skip
        unit_id, method = attribute(
            Evidence(
                provider,
                result.tags,
                result.gateway_key_id or None,
                result.provider_account or None,
            ),
            context.directory,
        )
        priced.append(
            Priced(
                position,
                record,
                result,
                provider,
                model,
                point.price_id,
                point.currency,
                cost(usage, point.rates),
                unit_id,
                method,
            )
        )
    return priced, quarantined


class ChunkTaken(Exception):
    """Another process committed this part of the batch first."""


def _commit_chunk(
    batch: IngestBatch, context: Context, chunk: list[tuple[int, Any]], offset: int
) -> None:
    org = context.organization
    priced, quarantined = prepare(context, chunk)
    duplicates = 0
    with transaction.atomic():
        done = (
            IngestBatch.objects.select_for_update()
            .filter(pk=batch.pk)
            .values_list("records_done", flat=True)
            .get()
        )
        if done != offset:
            raise ChunkTaken()
        _lock_organization(org)
        existing = _existing_fingerprints(org, [p.draft.request_id for p in priced])
        accepted: list[Priced] = []
        seen: dict[str, str] = {}
        for p in priced:
            rid, fp = p.draft.request_id, p.draft.fingerprint
            known = existing.get(rid) or seen.get(rid)
            if known is None:
                seen[rid] = fp
                accepted.append(p)
            elif known == fp:
                duplicates += 1
            else:
                reason = Reason(
                    "request_id",
                    f'"{rid}" was already ingested with different usage',
                    "conflicting_duplicate",
                )
                quarantined.append((p.position, rid, _raw_text(p.raw), [reason]))
        _write_events(org, batch, accepted)
        _add_to_rollup(org, accepted)
        QuarantinedEvent.objects.bulk_create(
            [
                QuarantinedEvent(
                    organization=org,
                    batch=batch,
                    line=pos,
                    request_id=rid[:200],
                    raw=raw,
                    reasons=[r.as_dict() for r in reasons],
                    reason=reasons[0].code,
                )  # fmt: skip
                for pos, rid, raw, reasons in quarantined
            ],
            ignore_conflicts=True,
        )
        IngestBatch.objects.filter(pk=batch.pk).update(
            received=F("received") + len(chunk),
            accepted=F("accepted") + len(accepted),
            duplicates=F("duplicates") + duplicates,
            quarantined=F("quarantined") + len(quarantined),
            records_done=F("records_done") + len(chunk),
            heartbeat_at=timezone.now(),
        )


def _lock_organization(org: Organization) -> None:
    """Serialise chunk writes per organisation (PostgreSQL; SQLite serialises writers anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7101, org.pk])


def _existing_fingerprints(org: Organization, request_ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    unique = list(dict.fromkeys(request_ids))
    for start in range(0, len(unique), 5000):
        part = unique[start : start + 5000]
        found.update(
            UsageEvent.objects.filter(organization=org, request_id__in=part).values_list(
                "request_id", "fingerprint"
            )
        )
    return found


EVENT_COLUMNS = (
    "organization_id", "request_id", "provider_response_id", "occurred_at", "provider", "model",
    "model_raw", "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_input_tokens",
    "reasoning_tokens", "batch", "status_code", "is_error", "retry_of", "attempt", "team", "service",
    "cost_center", "environment", "workflow", "prompt_template", "user_ref", "gateway_key_id",
    "provider_account", "unit_id", "attribution", "price_id", "cost", "currency", "fingerprint",
    "ingest_batch_id", "ingested_at",
)  # fmt: skip


def _event_row(org: Organization, batch: IngestBatch, p: Priced, now: dt.datetime) -> tuple:
    d, tags = p.draft, p.draft.tags
    return (
        org.pk, d.request_id, d.provider_response_id, d.occurred_at, p.provider, p.model,
        d.model_raw, d.input_tokens, d.output_tokens, d.cached_input_tokens, d.cache_write_input_tokens,
        d.reasoning_tokens, d.batch, d.status_code, d.is_error, d.retry_of, d.attempt,
        tags.get("team", ""), tags.get("service", ""), tags.get("cost_center", ""),
        tags.get("environment", ""), tags.get("workflow", ""), tags.get("prompt_template", ""),
        d.user_ref, d.gateway_key_id, d.provider_account, p.unit_id, p.method, p.price_id, p.cost,
        p.currency, d.fingerprint, batch.pk, now,
    )  # fmt: skip


def _write_events(org: Organization, batch: IngestBatch, accepted: list[Priced]) -> None:
    if not accepted:
        return
    now = timezone.now()
    rows = [_event_row(org, batch, p, now) for p in accepted]
    if connection.vendor == "postgresql":
        table = UsageEvent._meta.db_table
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    else:
        # Django's bulk_create is limited to ~30 rows per INSERT on SQLite: executemany is far faster.
        ops = connection.ops
        i_at, i_cost, i_ingested = (
            EVENT_COLUMNS.index("occurred_at"),
            EVENT_COLUMNS.index("cost"),
            EVENT_COLUMNS.index("ingested_at"),
        )
        adapted = []
        for row in rows:
            row = list(row)
            row[i_at] = ops.adapt_datetimefield_value(row[i_at])
            row[i_ingested] = ops.adapt_datetimefield_value(row[i_ingested])
            row[i_cost] = ops.adapt_decimalfield_value(row[i_cost], 24, 12)
            adapted.append(row)
        table = UsageEvent._meta.db_table
        sql = f"INSERT INTO {table} ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join(['%s'] * len(EVENT_COLUMNS))})"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.executemany(sql, adapted)


ROLLUP_DIMS = (
    "organization_id",
    "day",
    "unit_id",
    "service",
    "provider",
    "model",
    "environment",
    "attribution",
)
ROLLUP_SUMS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cost",
    "error_cost",
)


def rollup_rows(org: Organization, accepted: Iterable[Priced]) -> dict[tuple, list]:
    """Aggregate events into rollup increments keyed by ROLLUP_DIMS (pure)."""
    totals: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, 0, 0, Decimal(0), Decimal(0)])
    tz = org.tz
    for p in accepted:
        d = p.draft
        key = (
            org.pk, d.occurred_at.astimezone(tz).date(), p.unit_id, d.tags.get("service", ""),
            p.provider, p.model, d.tags.get("environment", ""), p.method,
        )  # fmt: skip
        t = totals[key]
        t[0] += 1
        t[1] += 1 if d.is_error else 0
        t[2] += d.input_tokens
        t[3] += d.output_tokens
        t[4] += d.cached_input_tokens
        t[5] += p.cost
        t[6] += p.cost if d.is_error else 0
    return totals


def _add_to_rollup(org: Organization, accepted: list[Priced]) -> None:
    totals = rollup_rows(org, accepted)
    if not totals:
        return
    from chargeback.usage.models import DailyUsage

    table = DailyUsage._meta.db_table
    columns = ROLLUP_DIMS + ROLLUP_SUMS
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in ROLLUP_SUMS)
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    items = list(totals.items())
    with connection.cursor() as cursor:
        for start in range(0, len(items), 500):
            part = items[start : start + 500]
            params: list[Any] = []
            for key, sums in part:
                params.extend(key)
                params.extend(sums)
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([placeholders] * len(part))} "  # noqa: S608
                f"ON CONFLICT ({', '.join(ROLLUP_DIMS)}) DO UPDATE SET {updates}",
                params,
            )


def wait_for_batch(batch_id: int, *, poll: float = 0.5, stall: float = 30.0) -> IngestBatch:
    """Wait until a batch is done, helping to process it: if nobody advances it for `stall`
    seconds (a worker died), this process resumes it itself."""
    import time

    last_progress, last_done = time.monotonic(), -1
    while True:
        batch = process_batch(batch_id)
        if batch.status in (BatchStatus.DONE, BatchStatus.FAILED):
            return batch
        if batch.records_done != last_done:
            last_done, last_progress = batch.records_done, time.monotonic()
        elif time.monotonic() - last_progress > stall:
            log.warning(
                "batch %s stalled at record %s; resuming here", batch_id, batch.records_done
            )
            last_progress = time.monotonic()
        time.sleep(poll)


def requeue_stuck(*, older_than: dt.timedelta = dt.timedelta(minutes=10)) -> list[int]:
    """Batches received or processing with no progress for a while: queue them again."""
    from django.db.models import Q

    from chargeback.usage.tasks import process_batch_task

    cutoff = timezone.now() - older_than
    with scopes_disabled():
        stuck = list(
            IngestBatch.objects.filter(status__in=[BatchStatus.RECEIVED, BatchStatus.PROCESSING])
            .filter(
                Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
            )
            .values_list("pk", flat=True)
        )
    for pk in stuck:
        process_batch_task.delay(pk)
    return stuck
