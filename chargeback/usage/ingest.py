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
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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
from chargeback.pricing.index import PriceIndex, PricePoint
from chargeback.pricing.models import ModelAlias
from chargeback.pricing.prices import Usage, cost
from chargeback.tenancy.models import Organization
from chargeback.units.attribution import Directory, Evidence, attribute
from chargeback.units.models import GatewayKey
from chargeback.units.queries import attribution_directory
from chargeback.usage.models import BatchStatus, IngestBatch, QuarantinedEvent, UsageEvent
from chargeback.usage.records import PayloadError, RecordError, printable, read_records
from chargeback.usage.rollup import add_to_rollup
from chargeback.usage.rows import EVENT_COLUMNS, copy_text, event_row
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
    # Memos of pure lookups, kept for one batch: normalise() and attribute() results.
    names: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    owners: dict[tuple, tuple[int, str]] = field(default_factory=dict)


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
            # The pool is shut down (its thread done reading) before the stream is closed.
            with batch.payload.open("rb") as stream, ThreadPoolExecutor(1) as pool:
                records = islice(read_records(stream, batch.format), offset, None)
                for chunk, prepared in _prepared_chunks(pool, context, records):
                    _commit_chunk(batch, context, chunk, prepared, offset)
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


Prepared = tuple[list["Priced"], list[tuple[int, str, str, list[Reason]]]]


def _prepared_chunks(
    pool: ThreadPoolExecutor, context: Context, records: Iterable
) -> Iterator[tuple[list, Prepared]]:
    """(chunk, prepare(chunk)) in order. The next chunk is read and prepared in the pool's one
    thread while the caller writes this one: preparing is pure Python (no database), and much
    of writing is waiting for PostgreSQL, which works in its own process meanwhile. An error
    in reading (PayloadError) surfaces here, after the chunks before it were written."""
    chunks = _chunks(records, CHUNK_SIZE)

    def read_and_prepare() -> tuple[list, Prepared] | None:
        chunk = next(chunks, None)
        return None if chunk is None else (chunk, prepare(context, chunk))

    pending = pool.submit(read_and_prepare)
    while (ready := pending.result()) is not None:
        pending = pool.submit(read_and_prepare)
        yield ready


@dataclass(slots=True)
class Priced:
    """A valid, normalised record with its price point; cost and owner are filled in only once
    it is known not to be a duplicate (`price_and_attribute`)."""

    position: int
    raw: dict[str, Any]
    draft: Draft
    provider: str
    model: str
    point: PricePoint
    cost: Decimal = Decimal(0)
    unit_id: int = 0
    method: str = ""


def _raw_text(record: Any) -> str:
    return (
        record.raw
        if isinstance(record, RecordError)
        else json.dumps(record, default=str, sort_keys=True)
    )


MEMO_LIMIT = 20_000  # entries per memo: bounded, whatever the variety of a batch


def prepare(
    context: Context, chunk: list[tuple[int, Any]]
) -> tuple[list[Priced], list[tuple[int, str, str, list[Reason]]]]:
    """Parse, validate, normalise and find the price (no database). -> (priced, quarantined)."""
    org = context.organization
    now, required_tags, key_defaults = context.now, org.required_tags, context.key_defaults
    names, aliases, find = context.names, context.aliases, context.prices.find
    if len(names) > MEMO_LIMIT:
        names.clear()
    priced: list[Priced] = []
    quarantined: list[tuple[int, str, str, list[Reason]]] = []
    for position, record in chunk:
        if isinstance(record, RecordError):
            quarantined.append(
                (position, "", record.raw, [Reason(record.field, record.problem, record.code)])
            )
            continue
        result = validate(record, now=now, required_tags=required_tags, key_defaults=key_defaults)
        if isinstance(result, list):
            rid = str(record.get("request_id") or "")[:200]
            quarantined.append((position, rid, _raw_text(record), result))
            continue
        name = names.get((result.provider, result.model_raw))
        if name is None:
            name = normalise(result.provider, result.model_raw, aliases)
            names[(result.provider, result.model_raw)] = name
        provider, model = name
        point = find(provider, model, result.occurred_at)
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
        priced.append(Priced(position, record, result, provider, model, point))
    return priced, quarantined


def price_and_attribute(context: Context, accepted: list[Priced]) -> None:
    """Fill in each event's cost and owning unit (pure; attribution memoised per evidence)."""
    owners, directory = context.owners, context.directory
    if len(owners) > MEMO_LIMIT:
        owners.clear()
    for p in accepted:
        d = p.draft
        usage = Usage(
            d.input_tokens, d.output_tokens, d.cached_input_tokens, d.cache_write_input_tokens,
            d.batch,
        )  # fmt: skip
        p.cost = cost(usage, p.point.rates)
        key = (p.provider, d.gateway_key_id, d.provider_account, *d.tags.items())
        owner = owners.get(key)
        if owner is None:
            evidence = Evidence(
                p.provider, d.tags, d.gateway_key_id or None, d.provider_account or None
            )
            owner = owners[key] = attribute(evidence, directory)
        p.unit_id, p.method = owner


class ChunkTaken(Exception):
    """Another process committed this part of the batch first."""


def _commit_chunk(
    batch: IngestBatch,
    context: Context,
    chunk: list[tuple[int, Any]],
    prepared: Prepared,
    offset: int,
) -> None:
    org = context.organization
    priced, quarantined = prepared
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
        price_and_attribute(context, accepted)
        _write_events(org, batch, accepted)
        add_to_rollup(org, accepted)
        if quarantined:
            QuarantinedEvent.objects.bulk_create(
                [
                    QuarantinedEvent(
                        organization=org,
                        batch=batch,
                        line=pos,
                        request_id=printable(rid)[:200],
                        raw=printable(raw),
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
    unique = list(dict.fromkeys(request_ids))
    if not unique:
        return {}
    if connection.vendor == "postgresql":
        # One array parameter, not thousands of placeholders (and no debug-log formatting).
        # Joined on (organization, request_id) so the plan is always one unique-index probe
        # per id: `organization_id = %s AND request_id = ANY(...)` lets stale statistics for a
        # growing organisation pick a scan of all its events (0.5 s per chunk at 1M events).
        with connection.cursor() as cursor:
            cursor.cursor.execute(
                f"SELECT e.request_id, e.fingerprint FROM {UsageEvent._meta.db_table} e "  # noqa: S608
                "JOIN (SELECT %s::bigint AS org, unnest(%s::text[]) AS id) r "
                "ON (e.organization_id, e.request_id) = (r.org, r.id)",
                [org.pk, unique],
            )
            return dict(cursor.cursor.fetchall())
    found: dict[str, str] = {}
    for start in range(0, len(unique), 5000):
        part = unique[start : start + 5000]
        found.update(
            UsageEvent.objects.filter(organization=org, request_id__in=part).values_list(
                "request_id", "fingerprint"
            )
        )
    return found


def _write_events(org: Organization, batch: IngestBatch, accepted: list[Priced]) -> None:
    if not accepted:
        return
    now = timezone.now()
    if connection.vendor == "postgresql":
        table = UsageEvent._meta.db_table
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy,
        ):
            for start in range(0, len(accepted), 1000):
                copy.write(copy_text(org, batch, accepted[start : start + 1000], now))
        return
    # Django's bulk_create is limited to ~30 rows per INSERT on SQLite: executemany is far faster.
    ops = connection.ops
    i_at, i_cost, i_ingested = (
        EVENT_COLUMNS.index("occurred_at"),
        EVENT_COLUMNS.index("cost"),
        EVENT_COLUMNS.index("ingested_at"),
    )
    adapted = []
    for p in accepted:
        row = list(event_row(org, batch, p, now))
        row[i_at] = ops.adapt_datetimefield_value(row[i_at])
        row[i_ingested] = ops.adapt_datetimefield_value(row[i_ingested])
        row[i_cost] = ops.adapt_decimalfield_value(row[i_cost], 24, 12)
        adapted.append(row)
    table = UsageEvent._meta.db_table
    sql = f"INSERT INTO {table} ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join(['%s'] * len(EVENT_COLUMNS))})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, adapted)


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
