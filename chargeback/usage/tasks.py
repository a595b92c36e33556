"""Every Celery task of usage, over the ingestion operation (`ingest.process_batch`). Tasks sit
on top: they import the logic, the logic never imports them (`intake.schedule` sends
`usage.process_batches` by its name)."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_scopes import scopes_disabled

from chargeback.tenancy.models import Organization
from chargeback.tenancy.scoping import org_task
from chargeback.usage.failures import retry_delay
from chargeback.usage.ingest import process_batch
from chargeback.usage.intake import PROCESS_BATCH, PROCESS_BATCHES, REQUEUE_STUCK_BATCHES
from chargeback.usage.models import BatchStatus, IngestBatch

log = logging.getLogger(__name__)


@org_task(IngestBatch, name=PROCESS_BATCH, bind=True, acks_late=True, reject_on_worker_lost=True)
def process_batch_task(task, batch_id: int, *, organization: Organization) -> str:
    """A failed try (not a record's problem: those are quarantined) is counted on the batch
    (`failures.failed_try`) and tried again with backoff, until the batch is marked failed."""
    try:
        return process_batch(batch_id).counts_line
    except Exception as exc:
        attempts = _attempts(batch_id)
        raise task.retry(
            exc=exc, countdown=retry_delay(attempts), max_retries=settings.INGEST_MAX_ATTEMPTS
        ) from exc


def _attempts(batch_id: int) -> int:
    # Only the batch's count of tries, by id, wherever it is (the database may be down).
    try:
        with scopes_disabled():
            return IngestBatch.objects.values_list("attempts", flat=True).get(pk=batch_id)
    except Exception:  # noqa: BLE001
        return 1


@shared_task(name=PROCESS_BATCHES, acks_late=True, reject_on_worker_lost=True)
def process_batches_task(batch_ids: list[int]) -> list[str]:
    """Process (or resume) batches in turn: what `intake.schedule` sends. They may belong to
    several organisations: `process_batch` enters each one's scope (`tenancy.scoping`), so this
    task is not an `org_task`. A batch that fails
    does not hold up the others in the message; the first error is raised once they are done
    (its next try is queued with backoff, `_retry_later`; the stuck-batch sweeper is the net)."""
    lines: list[str] = []
    error: Exception | None = None
    for pk in batch_ids:
        try:
            lines.append(process_batch(pk).counts_line)
        except Exception as exc:
            log.exception("batch %s could not be processed", pk)
            error = error or exc
            _retry_later(pk)
    if error is not None:
        raise error
    return lines


def _retry_later(batch_id: int) -> None:
    """Queue one batch's next try, after the backoff (with a broker; eager runs retry at once
    in `ingest.schedule`)."""
    if process_batch_task.app.conf.task_always_eager:
        return
    try:
        process_batch_task.apply_async((batch_id,), countdown=retry_delay(_attempts(batch_id)))
    except Exception:  # noqa: BLE001 - the broker is down too: the sweeper queues it again
        log.exception("batch %s: its next try could not be queued", batch_id)


@shared_task(name=REQUEUE_STUCK_BATCHES)
def requeue_stuck_batches() -> list[int]:
    return requeue_stuck()


def requeue_stuck(*, older_than: dt.timedelta | None = None) -> list[int]:
    """Batches received or processing with no sign of life for `older_than` (default
    `INGEST_STALE_AFTER` seconds): queue them again. Beat runs this every
    `INGEST_SWEEP_EVERY` seconds.

    A processing batch heartbeats with every committed chunk (`writer.commit_chunk`), and when a
    worker takes it up (`ingest.process_batch`); a received one counts from its creation. Each
    batch requeued here gets a fresh heartbeat in the same statement, so it is not queued again
    before another `older_than` has passed. A batch whose worker is alive but slow (one chunk
    taking longer than the threshold) may thus be run twice at once: that costs work, never
    counts: both runs start from `records_done`, and `commit_chunk` commits a chunk only while
    `records_done` still equals its offset (row-locked), so the run that comes second meets
    `ChunkTaken` and leaves the batch to the other."""
    if older_than is None:
        older_than = dt.timedelta(seconds=settings.INGEST_STALE_AFTER)
    now = timezone.now()
    cutoff = now - older_than
    # Across every organisation, on purpose: the sweeper looks for stuck batches wherever they
    # are and only reads their ids; each is processed in its own organisation's scope
    # (process_batch enters it).
    with scopes_disabled(), transaction.atomic():
        stale = IngestBatch.objects.filter(
            status__in=[BatchStatus.RECEIVED, BatchStatus.PROCESSING]
        ).filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff))
        stuck = list(stale.select_for_update(skip_locked=True).values_list("pk", flat=True))
        IngestBatch.objects.filter(pk__in=stuck).update(heartbeat_at=now)
    for pk in stuck:
        process_batch_task.delay(pk)
    if stuck:
        log.warning("requeued %s stuck ingest batch(es): %s", len(stuck), stuck)
    return stuck
