"""What `/health/` checks (django-health-check), for a load balancer or a monitor: the
database; with a broker (not in the embedded set-up, where tasks run in-process), that a
Celery worker answers a ping within a second and serves the default queue; and that no ingest
batch has waited too long. Answers carry no tenant data: check names and OK or a short reason."""

from __future__ import annotations

import dataclasses
import datetime as dt

from asgiref.sync import sync_to_async
from celery import Celery
from celery.app import app_or_default
from django.conf import settings
from django.db.models import Min
from django.utils import timezone
from django_scopes import scopes_disabled
from health_check.base import HealthCheck
from health_check.checks import Database
from health_check.contrib.celery import Ping
from health_check.exceptions import ServiceUnavailable

from chargeback.usage.models import BatchStatus, IngestBatch


@dataclasses.dataclass
class Workers(Ping):
    """At least one Celery worker answers a ping (through the broker) within `timeout`."""

    app: Celery = dataclasses.field(default_factory=app_or_default, repr=False)
    timeout: dt.timedelta = dataclasses.field(default=dt.timedelta(seconds=1), repr=False)

    def run(self) -> None:
        if self.app.conf.task_always_eager:
            return  # no broker (the embedded set-up): tasks run in the web process itself
        super().run()


@dataclasses.dataclass
class IngestBacklog(HealthCheck):
    """The oldest ingest batch not yet done was received less than `max_age` ago. A worker that
    died is replaced and its batch requeued within about two minutes (`tasks.requeue_stuck`);
    a batch older than this means nobody is working the queue."""

    max_age: dt.timedelta = dataclasses.field(
        default_factory=lambda: dt.timedelta(minutes=settings.HEALTH_MAX_BATCH_AGE_MINUTES),
        repr=False,
    )

    async def run(self) -> None:
        # On the request's own thread and database connection (thread_sensitive), as any view.
        oldest = await sync_to_async(_oldest_unfinished, thread_sensitive=True)()
        if oldest is None:
            return
        waited = timezone.now() - oldest
        if waited > self.max_age:
            minutes = int(waited.total_seconds() // 60)
            raise ServiceUnavailable(f"the oldest unfinished ingest batch is {minutes} min old")


def _oldest_unfinished() -> dt.datetime | None:
    # Across every organisation, on purpose: one timestamp, no tenant's rows.
    with scopes_disabled():
        return IngestBatch.objects.filter(
            status__in=[BatchStatus.RECEIVED, BatchStatus.PROCESSING]
        ).aggregate(oldest=Min("created_at"))["oldest"]


def health_checks() -> list[type[HealthCheck]]:
    """The checks of `/health/`."""
    return [Database, Workers, IngestBacklog]
