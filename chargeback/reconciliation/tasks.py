"""Export jobs on the worker: `run_export` writes one job's file (in its organisation's scope);
beat's `clean_exports_sweep` finds the organisations with expired jobs (ids only, across
organisations) and queues `clean_exports` for each, which deletes them with their files."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from chargeback.reconciliation import export_jobs
from chargeback.reconciliation.models import ExportJob
from chargeback.tenancy.scoping import org_task

CLEAN_SWEEP = "reconciliation.clean_exports_sweep"


@org_task(ExportJob, name="reconciliation.run_export")
def run_export(job_id: int, *, organization) -> str:
    return export_jobs.run(job_id, organization)


@org_task(ExportJob, name="reconciliation.clean_exports")
def clean_exports(job_id: int, *, organization) -> int:
    return export_jobs.delete_expired(organization)


@shared_task(name=CLEAN_SWEEP)
def clean_exports_sweep() -> list[int]:
    cutoff = timezone.now() - timedelta(days=settings.EXPORT_KEEP_DAYS)
    # Across organisations on purpose: one expired job id per organisation that has any.
    with scopes_disabled():
        due = dict(
            ExportJob.objects.filter(created_at__lt=cutoff)
            .order_by("organization_id", "pk")
            .values_list("organization_id", "pk")
        )
    for job_id in due.values():
        clean_exports.delay(job_id)
    return sorted(due.values())


def start(job: ExportJob) -> None:
    """Queue the job once the transaction that created it commits."""
    transaction.on_commit(lambda: run_export.delay(job.pk))
