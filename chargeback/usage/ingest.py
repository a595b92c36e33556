"""The ingestion operation: a stored batch -> validated, normalised, attributed, priced events,
written in bulk with their rollup and the batch counts, one committed chunk at a time.

Each chunk commits its events, quarantined records, rollup increments and the batch's
`records_done` together, so a worker that dies mid-batch loses nothing: the re-run skips the
committed records and redoes the rest. Duplicates are decided in the database (the unique
(organization, request_id) and a per-organisation lock while a chunk is written)."""

from __future__ import annotations

import atexit
import datetime as dt
import gc
import json
import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, getcontext
from itertools import islice
from typing import IO, Any

import orjson
from celery import shared_task
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import connection, connections, transaction
from django.db.models import F
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django_scopes import scopes_disabled

from chargeback.pricing.aliases import normalise
from chargeback.pricing.books import price_index
from chargeback.pricing.index import PriceIndex, PricePoint
from chargeback.pricing.models import ModelAlias
from chargeback.pricing.prices import Rates, Usage, cost
from chargeback.sql import fetch_one
from chargeback.tenancy.models import Organization
from chargeback.tenancy.scoping import org_of, within
from chargeback.units.attribution import Directory, Evidence, attribute
from chargeback.units.models import GatewayKey
from chargeback.units.queries import attribution_directory
from chargeback.usage.models import BatchStatus, IngestBatch, QuarantinedEvent, UsageEvent
from chargeback.usage.records import PayloadError, RecordError, printable, read_records
from chargeback.usage.rollup import LocalDays, add_to_rollup
from chargeback.usage.rows import EVENT_COLUMNS, copy_text, event_row, names_entry, owner_entry
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
    # "\t<org>\t<batch>\t", the end of every COPY line but the time (PostgreSQL); "" elsewhere
    copy_ids: str = ""
    # Memos of pure lookups, kept for one batch: normalise() and attribute() results, the
    # COPY segments of (price, raw model), rates in integers, UTC hours -> local days.
    names: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    owners: dict[tuple, tuple] = field(default_factory=dict)
    segments: dict[tuple[int, str], tuple] = field(default_factory=dict)
    rates: dict[int, tuple] = field(default_factory=dict)
    local_day: LocalDays = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.local_day is None:
            self.local_day = LocalDays(self.organization.tz)


def load_context(organization: Organization, batch: IngestBatch | None = None) -> Context:
    keys = GatewayKey.objects.filter(organization=organization, archived=False).select_related(
        "service"
    )
    now = timezone.now()
    return Context(
        organization=organization,
        now=now,
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
        copy_ids=(
            f"\t{organization.pk}\t{batch.pk}\t"
            if batch is not None and connection.vendor == "postgresql"
            else ""
        ),
    )


def check_record(organization: Organization, record: dict[str, Any]) -> list[Reason]:
    """What would quarantine this one record now (validation, model name, price), as the
    pipeline words it; [] if it would go through. Not checked: whether its request_id is
    already stored (a duplicate or a conflicting one), which only the write decides."""
    prepared = _validate_chunk(load_context(organization), [(1, record)])
    return prepared.quarantined[0][3] if prepared.quarantined else []


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
    """Store the raw payload, then a `received` batch pointing at it (one INSERT); processing
    is scheduled on commit. The file is written first, under a random name: a failure between
    the two leaves an unreferenced file, never a batch without its payload."""
    batch = IngestBatch(
        organization=organization,
        source=source,
        format=fmt,
        filename=filename[:300],
        created_by=created_by[:254],
    )
    field = IngestBatch._meta.get_field("payload")
    name = field.generate_filename(batch, f"{secrets.token_hex(12)}.{fmt}")
    content = ContentFile(payload) if isinstance(payload, bytes) else File(payload)
    new_folder = not field.storage.exists(os.path.dirname(name))
    batch.payload.name = field.storage.save(name, content, max_length=field.max_length)
    _sync(field.storage, batch.payload.name, new_folder=new_folder)
    batch.size_bytes = (
        len(payload) if isinstance(payload, bytes) else field.storage.size(batch.payload.name)
    )
    _insert_batch(batch)
    transaction.on_commit(lambda: schedule(batch.pk))
    return batch


def _sync(storage: Any, name: str, *, new_folder: bool = False) -> None:
    """Flush a stored payload to disk before its batch is committed (and 202 answered), so a
    power cut cannot leave a batch whose payload was only in the page cache: the file, the
    folder's entry for it and, when the folder is new (an organisation's first batch), the
    parent's entry for the folder. A storage without local paths (object storage) is durable
    once saved."""
    try:
        path = storage.path(name)
    except NotImplementedError:
        return
    folder = os.path.dirname(path)
    paths = [path, folder, os.path.dirname(folder)] if new_folder else [path, folder]
    for each in paths:
        fd = os.open(each, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _insert_batch(batch: IngestBatch) -> None:
    """batch.save(force_insert=True), in plain SQL on PostgreSQL: the ORM spends more time
    preparing this one-row INSERT than PostgreSQL spends running it (the API's hot path)."""
    if connection.vendor != "postgresql":
        batch.save(force_insert=True)
        return
    fields = [f for f in IngestBatch._meta.concrete_fields if not f.primary_key]
    values = []
    for f in fields:
        value = f.pre_save(batch, True)  # auto_now_add times, the file's name
        values.append(value.name if isinstance(value, FieldFile) else value)
    batch.pk = fetch_one(
        f"INSERT INTO {IngestBatch._meta.db_table} ({', '.join(f.column for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING id",
        values,
    )[0]
    batch._state.adding = False


@shared_task(name="usage.process_batches", acks_late=True, reject_on_worker_lost=True)
def process_batches_task(batch_ids: list[int]) -> list[str]:
    """Process (or resume) batches in turn: what `schedule` sends. A batch that fails does not
    hold up the others in the message; the first error is raised once they are done (the
    stuck-batch sweeper queues the failed one again)."""
    lines: list[str] = []
    error: Exception | None = None
    for pk in batch_ids:
        try:
            lines.append(process_batch(pk).counts_line)
        except Exception as exc:
            log.exception("batch %s could not be processed", pk)
            error = error or exc
    if error is not None:
        raise error
    return lines


def schedule(batch_id: int) -> None:
    """Queue a stored batch for processing. With a broker, the message is sent by this
    process's scheduler thread, so a request does not wait for the broker, and the batches
    stored within `GATHER_SECONDS` of the first go together in one message (a burst of requests
    costs a few messages a second, not one each: a message costs about half as much CPU as the
    rest of the request). A batch whose message is lost (the process dies first, the broker is down)
    stays `received`, and the stuck-batch sweeper (`requeue_stuck`) queues it again. Without a
    broker (tasks run eagerly), it is processed here and now."""
    from chargeback.usage.tasks import process_batch_task

    if process_batch_task.app.conf.task_always_eager:
        process_batch_task.delay(batch_id)
    else:
        _scheduler.add(batch_id)


GATHER_SECONDS = 0.2


class _Scheduler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.ids: list[int] = []
        self.thread: threading.Thread | None = None
        self.pid = 0
        atexit.register(self.send)

    def add(self, batch_id: int) -> None:
        with self.lock:
            self.ids.append(batch_id)
            if self.pid != os.getpid() or self.thread is None or not self.thread.is_alive():
                self.pid = os.getpid()  # first use, or a forked child: a thread of its own
                self.thread = threading.Thread(target=self._run, name="ingest-scheduler")
                self.thread.daemon = True
                self.thread.start()
        self.wake.set()

    def _run(self) -> None:
        while True:
            self.wake.wait()
            time.sleep(GATHER_SECONDS)  # the batches stored meanwhile go in the same message
            self.wake.clear()
            self.send()

    def send(self) -> None:
        with self.lock:
            ids, self.ids = self.ids, []
        if not ids:
            return
        try:
            process_batches_task.delay(ids)
        except Exception:
            log.exception("could not queue batches %s; the stuck-batch sweeper will", ids)


_scheduler = _Scheduler()


# Processing ----------------------------------------------------------------------------------


def process_batch(batch_id: int) -> IngestBatch:
    """Process (or resume) a batch. Safe to call any number of times."""
    organization = org_of(IngestBatch, batch_id)
    if organization is None:
        raise IngestBatch.DoesNotExist(f"No batch {batch_id}")
    with within(organization):
        batch = IngestBatch.objects.get(pk=batch_id)
    batch.organization = organization
    if batch.status in (BatchStatus.DONE, BatchStatus.FAILED):
        return batch
    if not batch.payload:
        with within(organization):
            IngestBatch.objects.filter(pk=batch.pk).update(
                status=BatchStatus.FAILED, error="the payload is missing"
            )
        batch.refresh_from_db()
        return batch
    with within(organization), _gc_paused():
        IngestBatch.objects.filter(
            pk=batch.pk, status__in=[BatchStatus.RECEIVED, BatchStatus.PROCESSING]
        ).update(status=BatchStatus.PROCESSING, started_at=batch.started_at or timezone.now())
        if batch.records_total is None:
            total = _count_records(batch)
            if total is not None:
                IngestBatch.objects.filter(pk=batch.pk).update(records_total=total)
        context = load_context(organization, batch)
        offset = batch.records_done
        try:
            processes, path = _preparers_for(batch)
            if processes > 1:
                from chargeback.usage.preparers import ForkedStages, PreparerFailed

                try:
                    with ForkedStages(context, path, processes) as stages:
                        stages.start(offset)
                        offset = _commit_all(batch, context, stages, offset)
                except PreparerFailed as exc:
                    log.warning("batch %s: %s; going on in this process", batch.pk, exc)
                    offset = IngestBatch.objects.values_list("records_done", flat=True).get(
                        pk=batch.pk
                    )
                else:
                    processes = 0  # done
            if processes != 0:
                # The stages' threads are done reading before the stream is closed.
                with (
                    batch.payload.open("rb") as stream,
                    _Stages(context, stream, batch.format) as stages,
                ):
                    stages.start(offset)
                    offset = _commit_all(batch, context, stages, offset)
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


def _count_records(batch: IngestBatch) -> int | None:
    """About how many records the batch holds, for its progress bar: its lines (NDJSON), less
    the header (CSV); None for JSON documents. One read at memory speed."""
    if batch.format not in ("ndjson", "csv"):
        return None
    lines, last = 0, b"\n"
    with batch.payload.open("rb") as stream:
        while block := stream.read(1 << 20):
            lines, last = lines + block.count(b"\n"), block[-1:]
    lines += last != b"\n"
    return max(0, lines - (batch.format == "csv"))


def _commit_all(batch: IngestBatch, context: Context, stages: Any, offset: int) -> int:
    """Commit the stages' chunks in order from `offset`; returns the offset reached. A chunk
    whose trusted write meets a request id stored since its look-up is written again, in full,
    with the ids decided under the lock."""
    for prepared in stages:
        try:
            _commit_chunk(batch, context, prepared, offset, trust=prepared.prechecked)
        except Exception as exc:  # the driver's or Django's IntegrityError
            if not (prepared.prechecked and _is_duplicate_request(exc)):
                raise
            _commit_chunk(batch, context, stages.full(prepared), offset, trust=False)
        offset += prepared.size
    return offset


def _preparers_for(batch: IngestBatch) -> tuple[int, str]:
    """(processes, payload path) to prepare the batch with: forked preparers for a large NDJSON
    payload on PostgreSQL (`INGEST_PREPARERS`, from `INGEST_PREPARERS_MIN_BYTES`), in a worker;
    else (1, ""). Not inside a transaction (the preparers' look-ups could not see its rows),
    nor where tasks run eagerly (in a web request's thread)."""
    processes = settings.INGEST_PREPARERS
    if (
        processes < 2
        or connection.vendor != "postgresql"
        or batch.format != "ndjson"
        or batch.size_bytes < settings.INGEST_PREPARERS_MIN_BYTES
        or not hasattr(os, "fork")
        or connection.in_atomic_block
        or settings.CELERY_TASK_ALWAYS_EAGER
    ):
        return 1, ""
    try:
        return processes, batch.payload.path
    except NotImplementedError:  # a storage without local files
        return 1, ""


_gc_lock = threading.Lock()
_gc_holders = 0


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch is processed: a chunk holds tens of thousands
    of young containers (records, drafts), which the collector would scan again and again for
    nothing (they form no cycles; reference counting frees them). Restored afterwards."""
    global _gc_holders
    with _gc_lock:
        _gc_holders += 1
        was_enabled = gc.isenabled()
        gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if was_enabled and _gc_holders == 0:
                gc.enable()


def _chunks(records: Iterable, size: int) -> Iterator[list]:
    iterator = iter(records)
    while chunk := list(islice(iterator, size)):
        yield chunk


# The pipeline -----------------------------------------------------------------------------
#
# Three stages, each in its own thread, hand chunks on through short queues:
#   1. read and validate: parse, validate, normalise the model, find the price (pure);
#   2. look up: which request ids are already stored (PostgreSQL, outside the chunk's
#      transaction: a hint that spares pricing them), then price, attribute, format the COPY
#      lines and add up the rollup for the others (pure);
#   3. write (the caller's thread): in one transaction per chunk, decide duplicates for the
#      ids not already found, COPY the accepted rows, upsert the rollup, quarantine, count.
# Python holds one lock at a time, so the stages overlap mainly with PostgreSQL's work, which
# runs in its own processes: while one chunk is written, the next ones are prepared.


@dataclass(slots=True)
class Priced:
    """A valid, normalised record with its price point; cost, owner, COPY line and rollup key
    are filled in only when it is not already stored (`_price_chunk`)."""

    position: int
    raw: dict[str, Any]
    draft: Draft
    provider: str
    model: str
    point: PricePoint
    pico: int = 0  # the cost in units of 10^-12 of the currency (exact)
    unit_id: int = 0
    method: str = ""
    line: str = ""  # the COPY text line (PostgreSQL)
    key: tuple = ()  # the rollup key: (day, owner entry, names entry)

    @property
    def cost(self) -> Decimal:
        return Decimal(self.pico).scaleb(-12)


@dataclass(slots=True)
class Prepared:
    size: int  # records in the chunk
    priced: list[Priced]  # the valid ones, in order
    quarantined: list[tuple[int, str, str, list[Reason]]]
    # Found stored before the chunk's transaction (final: a stored event never changes):
    repeats: int = 0  # with the same usage: duplicates
    conflicts: list[Priced] = field(default_factory=list)  # with other usage
    # The others, priced; None when the chunk comes from a preparer process (`slim`): then
    # `fresh_count`, `text` and `totals` stand for them, and `raw` holds the chunk's lines.
    fresh: list[Priced] | None = field(default_factory=list)
    prechecked: bool = False  # the ids were looked up before the transaction
    text: str | None = None  # COPY text of `fresh` (PostgreSQL)
    totals: dict[tuple, list] = field(default_factory=dict)  # rollup increments of `fresh`
    fresh_count: int = 0
    raw: bytes = b""
    first_line: int = 0


def slim(prepared: Prepared, raw: bytes, first_line: int) -> Prepared:
    """What a preparer process sends for a prechecked chunk: no per-event objects (pickling
    them costs more than making them), the conflicts already worded as quarantined records."""
    assert prepared.prechecked and prepared.fresh is not None
    quarantined = list(prepared.quarantined) + [
        (p.position, p.draft.request_id, _raw_text(p.raw), [_conflict(p)])
        for p in prepared.conflicts
    ]
    return Prepared(
        size=prepared.size, priced=[], quarantined=quarantined, repeats=prepared.repeats,
        fresh=None, prechecked=True, text=prepared.text, totals=prepared.totals,
        fresh_count=len(prepared.fresh), raw=raw, first_line=first_line,
    )  # fmt: skip


def _raw_text(record: Any) -> str:
    return (
        record.raw
        if isinstance(record, RecordError)
        else json.dumps(record, default=str, sort_keys=True)
    )


MEMO_LIMIT = 20_000  # entries per memo: bounded, whatever the variety of a batch
PRECHECK_MIN = 500  # smaller chunks are not worth a second connection


def _validate_chunk(context: Context, chunk: list[tuple[int, Any]]) -> Prepared:
    """Parse, validate, normalise and find the price (no database)."""
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
    return Prepared(len(chunk), priced, quarantined)


def _price_chunk(
    context: Context, prepared: Prepared, *, precheck: bool, always: bool = False
) -> Prepared:
    """Stage 2: which of the chunk's ids are stored already, and with what usage (a hint read
    outside the write transaction: a stored event never changes or goes, so what is found is
    final; what is not found is decided again in the transaction), then the others priced,
    attributed, formatted and added up."""
    priced = fresh = prepared.priced
    if precheck and (always or len(priced) >= PRECHECK_MIN):
        states = _stored_states(context.organization, priced)
        prepared.prechecked = True
        if "1" in states or "2" in states:
            fresh = [p for p, state in zip(priced, states, strict=True) if state == "0"]
            prepared.repeats = states.count("1")
            prepared.conflicts = [p for p, st in zip(priced, states, strict=True) if st == "2"]
    _price_and_attribute(context, fresh)
    prepared.fresh, prepared.totals = fresh, _rollup(fresh)
    if context.copy_ids:
        prepared.text = copy_text(context, fresh)
    return prepared


def _stored_states(org: Organization, priced: list[Priced]) -> str:
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


def _price_and_attribute(context: Context, accepted: list[Priced]) -> None:
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
        # price: in integers when the rates allow it (exact), else in Decimal
        r = rates.get(point.price_id)
        if r is None:
            r = rates[point.price_id] = integer_rates(point.rates)
        if r:
            scale, r_in, r_out, r_cached, r_write, r_bin, r_bout, fee = r
            inp, cached, written = d.input_tokens, d.cached_input_tokens, d.cache_write_input_tokens
            if d.batch:
                r_in, r_out = r_bin, r_bout
            exact = (
                (inp - cached - written) * r_in + cached * r_cached + written * r_write
                + d.output_tokens * r_out + fee
            )  # fmt: skip
            p.pico = _to_pico(exact, scale) if exact < LIMIT else _decimal_pico(d, point)
        else:
            p.pico = _decimal_pico(d, point)
        # attribute
        key = (p.provider, d.gateway_key_id, d.provider_account, *d.tags.items())
        owner = owners.get(key)
        if owner is None:
            evidence = Evidence(
                p.provider, d.tags, d.gateway_key_id or None, d.provider_account or None
            )
            unit_id, method = attribute(evidence, directory)
            owner = owners[key] = owner_entry(d, unit_id, method)
        p.unit_id, p.method = owner[0], owner[1]
        names = segments.get((point.price_id, d.model_raw))
        if names is None:
            names = segments[(point.price_id, d.model_raw)] = names_entry(p)
        p.key = (local_day(d), owner, names)


LIMIT = 10**26  # integer pricing below this: Decimal's 28 digits hold every step exactly


def integer_rates(rates: Rates) -> tuple | None:
    """The rates as integers per token in units of 10^-scale (scale >= 12), with the fee, so
    that the cost is an exact integer sum; () when Decimal must do it (a missing rate, a
    negative or special value, or a context that does not round half-even at 28+ digits)."""
    context = getcontext()
    if rates.input is None or rates.output is None:
        return ()
    if context.rounding != ROUND_HALF_EVEN or context.prec < 28:
        return ()
    fee = rates.per_request or Decimal(0)
    per_token = [
        rates.input,
        rates.output,
        rates.cached_input if rates.cached_input is not None else rates.input,
        rates.cache_write if rates.cache_write is not None else rates.input,
        rates.batch_input if rates.batch_input is not None else rates.input,
        rates.batch_output if rates.batch_output is not None else rates.output,
    ]
    values = [*per_token, fee]
    if any(not v.is_finite() or v < 0 for v in values):
        return ()
    places = [-v.normalize().as_tuple().exponent for v in values]
    scale = max(12, *(n + 6 for n in places[:-1]), places[-1])
    ints = [int(v.scaleb(scale - 6)) for v in per_token]
    return (scale, *ints, int(fee.scaleb(scale)))


def _to_pico(exact: int, scale: int) -> int:
    """An amount in units of 10^-scale rounded half-even to units of 10^-12 (what Decimal's
    quantize(Decimal("1e-12")) does)."""
    if scale == 12:
        return exact
    q, r = divmod(exact, 10 ** (scale - 12))
    half = 5 * 10 ** (scale - 13)
    return q + 1 if r > half or (r == half and q & 1) else q


def _decimal_pico(d: Draft, point: PricePoint) -> int:
    usage = Usage(
        d.input_tokens, d.output_tokens, d.cached_input_tokens, d.cache_write_input_tokens, d.batch
    )
    return int(cost(usage, point.rates).scaleb(12))


def _rollup(priced: list[Priced]) -> dict[tuple, list]:
    """Rollup increments of events, keyed by their rollup keys: [requests, errors, input,
    output, cached input, cost, error cost] with costs in units of 10^-12."""
    totals: dict[tuple, list] = {}
    for p in priced:
        d = p.draft
        t = totals.get(p.key)
        if t is None:
            t = totals[p.key] = [0, 0, 0, 0, 0, 0, 0]
        t[0] += 1
        t[2] += d.input_tokens
        t[3] += d.output_tokens
        t[4] += d.cached_input_tokens
        t[5] += p.pico
        if d.is_error:
            t[1] += 1
            t[6] += p.pico
    return totals


class _Stages:
    """The two preparing stages in threads, fed from the payload, read from the caller's
    thread by iteration. Leaving the `with` stops them and waits for them."""

    DEPTH = 2  # chunks waiting at most, per queue

    def __init__(self, context: Context, stream: IO[bytes], fmt: str) -> None:
        self.context, self.stream, self.fmt = context, stream, fmt
        self.validated: queue.Queue = queue.Queue(self.DEPTH)
        self.ready: queue.Queue = queue.Queue(self.DEPTH)
        self.stop = threading.Event()
        self.reader: threading.Thread | None = None
        self.pricer: threading.Thread | None = None
        self.precheck = connection.vendor == "postgresql"

    def __enter__(self) -> _Stages:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in (self.reader, self.pricer):
            if thread is not None:
                thread.join()

    def start(self, offset: int) -> None:
        records = islice(read_records(self.stream, self.fmt), offset, None)
        self.reader = threading.Thread(target=self._read, args=(records,), daemon=True)
        self.pricer = threading.Thread(target=self._price, daemon=True)
        self.reader.start()
        self.pricer.start()

    def __iter__(self) -> Iterator[Prepared]:
        while True:
            kind, item = self._get(self.ready, self.pricer)
            if kind is _END:
                return
            if kind is _ERROR:
                raise item
            yield item

    def _put(self, q: queue.Queue, kind: object, item: Any = None) -> bool:
        while not self.stop.is_set():
            try:
                q.put((kind, item), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, q: queue.Queue, producer: threading.Thread | None) -> tuple[object, Any]:
        """The next item; an error if the producer is gone (or we are stopping) with none."""
        while True:
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                gone = self.stop.is_set() or producer is None or not producer.is_alive()
                if gone and q.empty():
                    return _ERROR, RuntimeError("an ingestion stage stopped")

    def full(self, prepared: Prepared) -> Prepared:
        return prepared  # prepared here, in full already

    def _read(self, records: Iterable) -> None:
        try:
            for chunk in _chunks(records, CHUNK_SIZE):
                if not self._put(self.validated, _ITEM, _validate_chunk(self.context, chunk)):
                    return
            self._put(self.validated, _END)
        except BaseException as exc:  # noqa: BLE001 - handed on to the caller's thread
            self._put(self.validated, _ERROR, exc)

    def _price(self) -> None:
        try:
            while not self.stop.is_set():
                kind, item = self._get(self.validated, self.reader)
                if kind is not _ITEM:
                    self._put(self.ready, kind, item)
                    return
                item = _price_chunk(self.context, item, precheck=self.precheck)
                if not self._put(self.ready, _ITEM, item):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed on to the caller's thread
            self._put(self.ready, _ERROR, exc)
        finally:
            if self.precheck:
                connections.close_all()  # this thread's own connection


_ITEM, _END, _ERROR = object(), object(), object()


class ChunkTaken(Exception):
    """Another process committed this part of the batch first."""


def _is_duplicate_request(exc: Exception) -> bool:
    """A unique violation of (organization, request_id), raised by the driver (COPY) or
    wrapped by Django."""
    for error in (exc, exc.__cause__):
        diag = getattr(error, "diag", None)
        if getattr(diag, "constraint_name", None) == "usage_event_unique_request":
            return True
    return False


def _commit_chunk(
    batch: IngestBatch, context: Context, prepared: Prepared, offset: int, *, trust: bool = False
) -> None:
    """Write a chunk in one transaction. `trust`: the ids the look-up before the transaction
    did not find are written without looking again; the unique (organization, request_id)
    refuses any that was stored since (another process, or the chunk before, not yet
    committed then), the transaction rolls back, and the caller writes the chunk again with
    `trust=False`: decided under the lock."""
    org = context.organization
    quarantined = list(prepared.quarantined)
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
        duplicates = prepared.repeats
        for p in prepared.conflicts:
            quarantined.append((p.position, p.draft.request_id, _raw_text(p.raw), [_conflict(p)]))
        if prepared.fresh is None:  # from a preparer (always prechecked): trusted, as formatted
            assert trust
            accepted_count = prepared.fresh_count
            if accepted_count:
                _copy_events(prepared.text or "")
            add_to_rollup(org, prepared.totals)
        else:
            accepted_count, duplicates = _write_fresh(
                org, batch, prepared, quarantined, duplicates, trust=trust
            )
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
            received=F("received") + prepared.size,
            accepted=F("accepted") + accepted_count,
            duplicates=F("duplicates") + duplicates,
            quarantined=F("quarantined") + len(quarantined),
            records_done=F("records_done") + prepared.size,
            heartbeat_at=timezone.now(),
        )


def _write_fresh(
    org: Organization, batch: IngestBatch, prepared: Prepared, quarantined: list,
    duplicates: int, *, trust: bool,
) -> tuple[int, int]:  # fmt: skip
    """Write the chunk's fresh events (those not found stored before the transaction), the ids
    decided here, under the lock, unless `trust`. Returns (accepted, duplicates); conflicting
    ones are added to `quarantined`."""
    fresh = prepared.fresh or []
    found = {} if trust else _existing_fingerprints(org, [p.draft.request_id for p in fresh])
    accepted: list[Priced] = []
    seen: dict[str, str] = {}
    for p in fresh:
        rid, fp = p.draft.request_id, p.draft.fingerprint
        known = found.get(rid) or seen.get(rid)
        if known is None:
            seen[rid] = fp
            accepted.append(p)
        elif known == fp:
            duplicates += 1
        else:
            quarantined.append((p.position, rid, _raw_text(p.raw), [_conflict(p)]))
    if len(accepted) == len(fresh):  # all of them (accepted is a part of fresh)
        text, totals = prepared.text, prepared.totals
    else:
        text, totals = None, _rollup(accepted)
    _write_events(org, batch, accepted, text)
    add_to_rollup(org, totals)
    return len(accepted), duplicates


def _conflict(p: Priced) -> Reason:
    return Reason(
        "request_id",
        f'"{p.draft.request_id}" was already ingested with different usage',
        "conflicting_duplicate",
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
        # The ids go as one JSON text: psycopg would quote a list's items one by one in Python.
        try:
            ids, unpack = orjson.dumps(unique).decode(), "json_array_elements_text(%s::json)"
        except TypeError:  # not UTF-8 (a lone surrogate): the driver says so below
            ids, unpack = unique, "unnest(%s::text[])"
        with connection.cursor() as cursor:
            cursor.cursor.execute(
                f"SELECT e.request_id, e.fingerprint FROM {UsageEvent._meta.db_table} e "  # noqa: S608
                f"JOIN (SELECT %s::bigint AS org, {unpack} AS id) r "
                "ON (e.organization_id, e.request_id) = (r.org, r.id)",
                [org.pk, ids],
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


def _write_events(
    org: Organization, batch: IngestBatch, accepted: list[Priced], text: str | None = None
) -> None:
    if not accepted:
        return
    if connection.vendor == "postgresql":
        _copy_events(text if text is not None else "".join(p.line for p in accepted))
        return
    now = timezone.now()
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


COPY_BLOCK = 1 << 18  # characters per COPY write


def _copy_events(text: str) -> None:
    """COPY rows in COPY's text format into the events table (PostgreSQL)."""
    table = UsageEvent._meta.db_table
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy,
    ):
        for start in range(0, len(text), COPY_BLOCK):
            copy.write(text[start : start + COPY_BLOCK])


def wait_for_batch(batch_id: int, *, poll: float = 0.5, stall: float = 30.0) -> IngestBatch:
    """Wait until a batch is done, helping to process it: if nobody advances it for `stall`
    seconds (a worker died), this process resumes it itself."""
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
