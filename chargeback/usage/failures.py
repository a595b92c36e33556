"""A batch whose processing fails for a reason that is not one record's (the database is down,
the payload's storage is gone, a bug): each failed try is counted on the batch with its error
text, visible in the API and on the batch page while the batch is tried again with backoff;
after `INGEST_MAX_ATTEMPTS` tries the batch is `failed` with that text, and can be retried from
its page (`retry.retry_batch`). A record's own problem never comes here: it is quarantined
(`poison.py`)."""

from __future__ import annotations

import logging
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from chargeback.tenancy.mail import mail_admins
from chargeback.tenancy.models import Organization
from chargeback.tenancy.scoping import within
from chargeback.usage.models import BatchStatus, IngestBatch

log = logging.getLogger(__name__)
MAX_ERROR = 2000  # characters of an error kept on the batch
MAX_DELAY = 600  # seconds between tries at most


def retry_delay(attempts: int) -> int:
    """Seconds before the next try, after `attempts` failed ones: doubling from
    INGEST_RETRY_SECONDS, at most MAX_DELAY."""
    return min(settings.INGEST_RETRY_SECONDS * 2 ** max(0, attempts - 1), MAX_DELAY)


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()[:MAX_ERROR]


def failed_try(batch: IngestBatch, organization: Organization, exc: Exception) -> IngestBatch:
    """Count a failed try on the batch, with its error. The last allowed try marks the batch
    `failed` and returns it; an earlier one raises `exc` again (the caller tries again later).
    If even this cannot be written (the database is down), `exc` is raised as it is."""
    maximum = settings.INGEST_MAX_ATTEMPTS
    text = error_text(exc)
    log.warning("batch %s: a try failed: %s", batch.pk, text)
    try:
        with within(organization):
            rows = IngestBatch.objects.filter(
                pk=batch.pk, status__in=[BatchStatus.RECEIVED, BatchStatus.PROCESSING]
            )
            rows.update(attempts=F("attempts") + 1)
            attempts = IngestBatch.objects.values_list("attempts", flat=True).get(pk=batch.pk)
            if attempts >= maximum and rows.update(
                status=BatchStatus.FAILED,
                finished_at=timezone.now(),
                error=f"failed {attempts} times; the last error: {text}",
            ):
                transaction.on_commit(partial(_tell_admins, organization, batch.pk, attempts, text))
            else:
                rows.update(
                    error=f"try {attempts} of {maximum} failed ({text}); "
                    f"trying again in {retry_delay(attempts)} s"
                )
            batch.refresh_from_db()
    except Exception:  # noqa: BLE001 - the original error is the one to report
        log.exception("batch %s: the failed try could not be recorded", batch.pk)
        raise exc from None
    if batch.status == BatchStatus.FAILED:
        return batch
    raise exc


def _tell_admins(organization: Organization, batch_id: int, attempts: int, text: str) -> None:
    """The admins' notification of a batch that failed for good (once: only the try that marks
    it `failed` sends it); the batch page offers the retry."""
    path = reverse(
        "usage:batch-detail", kwargs={"org_slug": organization.slug, "batch_id": batch_id}
    )
    mail_admins(
        organization,
        subject=f"usage batch {batch_id} failed",
        message=(
            f"Usage batch {batch_id} could not be processed after {attempts} tries, so none of "
            f"its events are counted yet.\n\nThe last error: {text}\n\n"
            f"See it and retry it: {settings.SITE_URL.rstrip('/')}{path}\n"
        ),
    )
