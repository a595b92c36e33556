"""Large exports run as a task: the job records what to export (format, FOCUS version, days,
units), a worker writes the file under the var directory (VAR_DIR/exports/<org id>/) and
records its progress (rows written of the rows to write), and the file is offered to the
members who could have asked for the same export. Files older than EXPORT_KEEP_DAYS are
deleted with their jobs, by beat (`clean_exports`) and whenever a new job is created."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from chargeback.reconciliation.exports import export_lines, export_rows
from chargeback.reconciliation.models import ExportJob, ExportStatus
from chargeback.tenancy.models import Membership, Organization
from chargeback.units.queries import visible_unit_ids

log = logging.getLogger(__name__)
PROGRESS_SECONDS = 0.5  # the progress is written at most this often


def export_dir() -> Path:
    return Path(settings.VAR_DIR) / "exports"


def create_job(
    membership: Membership, *, fmt: str, version: str, first: dt.date, last: dt.date,
    unit_ids: set[int] | None, filename: str,
) -> ExportJob:  # fmt: skip
    """A queued job for the export the membership asked for (its reach already applied to
    `unit_ids`); the expired jobs of the organisation are deleted first."""
    organization = membership.organization
    delete_expired(organization)
    return ExportJob.objects.create(
        organization=organization,
        requested_by=membership.user,
        params={
            "format": fmt,
            "focus_version": version,
            "first": first.isoformat(),
            "last": last.isoformat(),
            "unit_ids": None if unit_ids is None else sorted(unit_ids),
        },
        filename=filename,
    )


def can_see(membership: Membership, job: ExportJob) -> bool:
    """The requester, and any member who could have asked for the same export: one who sees
    every unit, or a team lead whose reach holds every unit of the job."""
    return any(visible(membership, [job]))


def visible(membership: Membership, jobs: Iterable[ExportJob]) -> Iterator[ExportJob]:
    """The jobs of `jobs` that `membership` may open (see `can_see`), in their order; its
    reach is read once, when the first job not its own needs it."""
    reach: set[int] | None | bool = False  # False: not read yet
    for job in jobs:
        if job.organization_id != membership.organization_id:
            continue
        if job.requested_by_id != membership.user_id:
            if reach is False:
                reach = visible_unit_ids(membership)
            units = job.params.get("unit_ids")
            if reach is not None and (units is None or not set(units) <= reach):
                continue
        yield job


def run(job_id: int, organization: Organization) -> str:
    """Write the job's file, recording the progress; a failure is recorded on the job (with
    the partial file deleted), not raised. A job already finished is left as it is."""
    job = ExportJob.objects.get(organization=organization, pk=job_id)
    if not job.running:
        return job.status
    params = job.params
    first = dt.date.fromisoformat(params["first"])
    last = dt.date.fromisoformat(params["last"])
    units = None if params["unit_ids"] is None else set(params["unit_ids"])
    folder = export_dir() / str(organization.pk)
    path = folder / f"{job.pk}-{secrets.token_hex(8)}-{job.filename}"
    try:
        total = export_rows(organization, params["format"], first, last, units)
        relative = str(path.relative_to(settings.VAR_DIR))
        _update(job, status=ExportStatus.RUNNING, started_at=timezone.now(), rows_total=total,
                rows_done=0, file_path=relative, error="")  # fmt: skip
        folder.mkdir(parents=True, exist_ok=True)
        lines = export_lines(
            organization, params["format"], params["focus_version"], first, last, units
        )
        rows = -1 if params["format"] != "ndjson" else 0  # CSV and FOCUS: the header
        last_write = time.monotonic()
        with path.open("w", encoding="utf-8", newline="") as out:
            for line in lines:
                out.write(line)
                rows += 1
                if time.monotonic() - last_write >= PROGRESS_SECONDS:
                    _update(job, rows_done=max(rows, 0))
                    last_write = time.monotonic()
        _update(job, status=ExportStatus.DONE, rows_done=max(rows, 0),
                rows_total=max(rows, 0), finished_at=timezone.now())  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - recorded on the job and shown on its page
        log.exception("export job %s failed", job.pk)
        path.unlink(missing_ok=True)
        _update(job, status=ExportStatus.FAILED, file_path="", finished_at=timezone.now(),
                error=f"{type(exc).__name__}: {str(exc)[:500]}")  # fmt: skip
    return job.status


def _update(job: ExportJob, **fields) -> None:
    """Write the fields at once (outside any save of the whole row), so a page polling the
    progress sees each step."""
    for name, value in fields.items():
        setattr(job, name, value)
    ExportJob.objects.filter(organization=job.organization_id, pk=job.pk).update(**fields)


def file_of(job: ExportJob) -> Path | None:
    """The finished job's file, when it is still there."""
    if job.status != ExportStatus.DONE or not job.file_path:
        return None
    path = Path(settings.VAR_DIR) / job.file_path
    return path if path.is_file() else None


def expired(job: ExportJob, now: dt.datetime | None = None) -> bool:
    keep = dt.timedelta(days=settings.EXPORT_KEEP_DAYS)
    return job.created_at < (now or timezone.now()) - keep


def delete_expired(organization: Organization, now: dt.datetime | None = None) -> int:
    """Delete the organisation's jobs older than EXPORT_KEEP_DAYS and their files."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.EXPORT_KEEP_DAYS)
    old = list(ExportJob.objects.filter(organization=organization, created_at__lt=cutoff))
    for job in old:
        if job.file_path:
            (Path(settings.VAR_DIR) / job.file_path).unlink(missing_ok=True)
    ExportJob.objects.filter(organization=organization, pk__in=[j.pk for j in old]).delete()
    return len(old)
