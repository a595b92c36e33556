"""Retrying a failed batch from its page: it goes back to `received` with its tries reset and
is processed again from its last committed chunk (`records_done`), so nothing already counted
is counted twice."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from chargeback.audit.log import record
from chargeback.usage.ingest import schedule
from chargeback.usage.models import BatchStatus, IngestBatch


def retry_batch(*, batch: IngestBatch, actor: Any) -> bool:
    """Queue a failed batch again; False (nothing done) if it is not failed."""
    with transaction.atomic():
        updated = IngestBatch.objects.filter(pk=batch.pk, status=BatchStatus.FAILED).update(
            status=BatchStatus.RECEIVED, attempts=0, error="", finished_at=None,
            heartbeat_at=timezone.now(),
        )  # fmt: skip
        if updated:
            record(
                organization=batch.organization,
                actor=actor,
                action="ingestbatch.retried",
                obj=batch,
                before={"status": BatchStatus.FAILED, "error": batch.error[:500]},
                after={"status": BatchStatus.RECEIVED},
            )
            transaction.on_commit(lambda: schedule(batch.pk))
    return bool(updated)
