"""The ingestion operation: a stored batch -> validated, normalised, attributed, priced events,
written in bulk with their rollup and the batch counts, one committed chunk at a time.

Each chunk commits its events, quarantined records, rollup increments and the batch's
`records_done` together, so a worker that dies mid-batch loses nothing: the re-run skips the
committed records and redoes the rest. Duplicates are decided in the database (the unique
(organization, request_id) and a per-organisation lock while a chunk is written).

The modules, each using only those below it:
  ingest.py     create_batch, process_batch, wait_for_batch: take a batch in, run it (here)
  intake.py     store_batch: the payload and the batch row; the scheduler thread
  stages.py     the preparing stages in threads; preparers.py: in forked processes
  writer.py     commit_chunk: one chunk's transaction (COPY, locks, counts)
  pipeline.py   validate_chunk, price_chunk: one chunk's steps; check_record
  rows.py       events as rows and COPY text; context.py: Context, Priced, Prepared
  poison.py     a record that would break a stage, found and worded: quarantined alone
  failures.py   failed_try: a try that failed for a reason not a record's, counted; backoff
The Celery tasks (tasks.py) and retry.py (a failed batch retried from its page) sit on top."""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from chargeback.tenancy.models import Organization
from chargeback.tenancy.scoping import org_of, within
from chargeback.usage.adapters.redact import stripped_payload
from chargeback.usage.context import Context, load_context
from chargeback.usage.failures import failed_try, retry_delay
from chargeback.usage.intake import scheduler, store_batch
from chargeback.usage.models import BatchStatus, IngestBatch
from chargeback.usage.preparers import ForkedStages, PreparerFailed
from chargeback.usage.records import PayloadError
from chargeback.usage.stages import Stages
from chargeback.usage.writer import ChunkTaken, commit_chunk, is_duplicate_request

log = logging.getLogger(__name__)
CHUNK_SIZE = settings.INGEST_CHUNK_SIZE
REDACTED_FORMATS = ("otel", "litellm")  # formats that carry message text: removed at receipt


def create_batch(
    *,
    organization: Organization,
    payload: bytes | IO[bytes],
    fmt: str,
    source: str,
    filename: str = "",
    created_by: str = "",
) -> IngestBatch:
    """Store the raw payload and a `received` batch pointing at it (`intake.store_batch`);
    processing is scheduled on commit. OTel and LiteLLM payloads are stored without their
    prompt and completion text (`adapters.redact`; `redact.Unreadable` if that cannot be
    done, and then nothing is stored)."""
    if fmt in REDACTED_FORMATS:
        payload = stripped_payload(payload, fmt)
    batch = store_batch(
        organization=organization, payload=payload, fmt=fmt, source=source,
        filename=filename, created_by=created_by,
    )  # fmt: skip
    transaction.on_commit(lambda: schedule(batch.pk))
    return batch


def schedule(batch_id: int) -> None:
    """Queue a stored batch for processing. With a broker, the message is sent by this
    process's scheduler thread (`intake.Scheduler`), so a request does not wait for the broker,
    and the batches stored within `intake.GATHER_SECONDS` of the first go together in one
    `usage.process_batches` message (a burst of requests costs a few messages a second, not one
    each: a message costs about half as much CPU as the rest of the request). A batch whose
    message is lost (the process dies first, the broker is down) stays `received`, and the
    stuck-batch sweeper (`tasks.requeue_stuck`) queues it again. Without a broker (tasks run
    eagerly), it is processed here and now, as the task would."""
    if current_app.conf.task_always_eager:
        for _ in range(settings.INGEST_MAX_ATTEMPTS):  # no backoff in a request's thread
            try:
                process_batch(batch_id)
                return
            except Exception:  # noqa: BLE001 - counted on the batch; the sweeper goes on
                log.exception("batch %s: a try failed", batch_id)
    else:
        scheduler.add(batch_id)


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
    try:
        return _run(batch, organization)
    except Exception as exc:  # not a record's problem (those are quarantined): try again
        return failed_try(batch, organization, exc)


def _run(batch: IngestBatch, organization: Organization) -> IngestBatch:
    with within(organization), _gc_paused():
        IngestBatch.objects.filter(
            pk=batch.pk, status__in=[BatchStatus.RECEIVED, BatchStatus.PROCESSING]
        ).update(
            status=BatchStatus.PROCESSING,
            started_at=batch.started_at or timezone.now(),
            heartbeat_at=timezone.now(),  # taken up: the sweeper leaves it for a while
        )
        if batch.records_total is None:
            total = _count_records(batch)
            if total is not None:
                IngestBatch.objects.filter(pk=batch.pk).update(records_total=total)
        context = load_context(organization, batch)
        offset = batch.records_done
        try:
            processes, path = _preparers_for(batch)
            if processes > 1:
                try:
                    with ForkedStages(context, path, processes, CHUNK_SIZE) as stages:
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
                    Stages(context, stream, batch.format, CHUNK_SIZE) as stages,
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
                status=BatchStatus.DONE, finished_at=timezone.now(), error=""
            )
        batch.refresh_from_db()
    return batch


def wait_for_batch(batch_id: int, *, poll: float = 0.5, stall: float = 30.0) -> IngestBatch:
    """Wait until a batch is done, helping to process it: if nobody advances it for `stall`
    seconds (a worker died), this process resumes it itself."""
    last_progress, last_done, failures = time.monotonic(), -1, 0
    while True:
        try:
            batch = process_batch(batch_id)
        except Exception:
            # counted on the batch (failed_try), which is failed after the last try; if even
            # that cannot be written, give up after as many tries
            failures += 1
            if failures > settings.INGEST_MAX_ATTEMPTS:
                raise
            time.sleep(min(retry_delay(failures), stall))
            continue
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


def _commit_all(
    batch: IngestBatch, context: Context, stages: Stages | ForkedStages, offset: int
) -> int:
    """Commit the stages' chunks in order from `offset`; returns the offset reached. A chunk
    whose trusted write meets a request id stored since its look-up is written again, in full,
    with the ids decided under the lock."""
    for prepared in stages:
        try:
            commit_chunk(batch, context, prepared, offset, trust=prepared.prechecked)
        except Exception as exc:  # the driver's or Django's IntegrityError
            if not (prepared.prechecked and is_duplicate_request(exc)):
                raise
            commit_chunk(batch, context, stages.full(prepared), offset, trust=False)
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
