"""Large exports in the browser: the download of more than EXPORT_TASK_THRESHOLD rows (or any,
by choice) is prepared by a worker. The prepare page names the rows and starts the job; the
job's page shows a progress bar (polled over htmx every second) and then offers the file.
A job is seen by its requester and by the members who could have asked for the same export
(a team lead only for its units); another organisation's, or an expired one, is a 404."""

from __future__ import annotations

from itertools import islice

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from chargeback.dashboards import event_export
from chargeback.reconciliation import export_jobs
from chargeback.reconciliation.exports import export_rows
from chargeback.reconciliation.models import ExportJob
from chargeback.reconciliation.tasks import start
from chargeback.tenancy.permissions import org_permission

PARAMS = ("period", "from", "to", "unit", "format", "focus_version")
RECENT = 10


def _parse(request: HttpRequest, params) -> event_export.EventExport | HttpResponse:
    try:
        return event_export.parse_export(request.membership, params)
    except event_export.ExportRequestError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    except event_export.OutOfReach:
        raise Http404("No such unit.") from None


def rows_of(export: event_export.EventExport) -> int:
    org = export.membership.organization
    return export_rows(org, export.fmt, export.first, export.last, export.unit_ids)


def too_large(export: event_export.EventExport) -> bool:
    return rows_of(export) > settings.EXPORT_TASK_THRESHOLD


@org_permission("org.view")
def export_prepare(request: HttpRequest, org_slug: str) -> HttpResponse:
    """GET: what the export holds and a button that prepares it; POST: start the job."""
    params = request.POST if request.method == "POST" else request.GET
    export = _parse(request, params)
    if isinstance(export, HttpResponse):
        return export
    if request.method == "POST":
        job = export_jobs.create_job(
            request.membership, fmt=export.fmt, version=export.version, first=export.first,
            last=export.last, unit_ids=export.unit_ids, filename=export.filename,
        )  # fmt: skip
        start(job)
        return redirect("dashboards:export-job", org_slug=org_slug, export_id=job.pk)
    jobs = ExportJob.objects.filter(organization=request.org).order_by("-created_at", "-pk")
    recent = list(islice(export_jobs.visible(request.membership, jobs.iterator()), RECENT))
    context = {
        "export": export,
        "rows": rows_of(export),
        "threshold": settings.EXPORT_TASK_THRESHOLD,
        "hidden": [(k, params[k]) for k in PARAMS if k in params],
        "recent": recent,
    }
    return render(request, "dashboards/export_prepare.html", context)


def _job(request: HttpRequest, export_id: int) -> ExportJob:
    job = get_object_or_404(ExportJob, organization=request.org, pk=export_id)
    if not export_jobs.can_see(request.membership, job):
        raise Http404("No such export.")
    if export_jobs.expired(job):
        export_jobs.delete_expired(request.org)
        raise Http404("This export has expired; prepare it again.")
    return job


@org_permission("org.view")
def export_job(request: HttpRequest, org_slug: str, export_id: int) -> HttpResponse:
    job = _job(request, export_id)
    context = {
        "job": job,
        "ready": export_jobs.file_of(job) is not None,
        "keep_days": settings.EXPORT_KEEP_DAYS,
        "download": reverse(
            "dashboards:export-download", kwargs={"org_slug": org_slug, "export_id": job.pk}
        ),
    }
    if request.htmx:
        return render(request, "dashboards/export_job.html#progress", context)
    return render(request, "dashboards/export_job.html", context)


@org_permission("org.view")
def export_download(request: HttpRequest, org_slug: str, export_id: int) -> HttpResponse:
    job = _job(request, export_id)
    path = export_jobs.file_of(job)
    if path is None:
        raise Http404("The file is not ready, or no longer there.")
    kind = "application/x-ndjson" if job.params.get("format") == "ndjson" else "text/csv"
    return FileResponse(path.open("rb"), as_attachment=True, filename=job.filename,
                        content_type=kind)  # fmt: skip
