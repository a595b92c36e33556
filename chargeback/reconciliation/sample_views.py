"""The sample audit page: upload a sample of gateway logs, see what onboarding would make of
it. The file is read once, in the request, and neither ingested nor kept."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from chargeback.reconciliation.sample import MAX_RECORDS, PayloadError, audit_sample
from chargeback.tenancy.permissions import org_permission
from chargeback.usage.forms import UploadForm

PERM = "billing.close"  # finance and admins, as the readiness page


@org_permission(PERM)
@require_http_methods(["GET", "POST"])
def sample_audit(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    context = {"form": form, "max_records": MAX_RECORDS}
    if request.method != "POST":
        return render(request, "reconciliation/sample_audit.html", context)
    if not form.is_valid():
        return render(request, "reconciliation/sample_audit.html", context, status=400)
    upload = form.cleaned_data["file"]
    upload.seek(0)
    try:
        audit = audit_sample(request.org, upload, form.cleaned_data["format"])
    except PayloadError as exc:
        form.add_error("file", str(exc))
        return render(request, "reconciliation/sample_audit.html", context, status=400)
    context.update(audit=audit, filename=upload.name)
    return render(request, "reconciliation/sample_audit.html", context)
