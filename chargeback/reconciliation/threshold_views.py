"""The page of the organisation's reconciliation and readiness thresholds (finance and admins):
the form, saved through `thresholds.save_thresholds` (audited, old -> new)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from chargeback.reconciliation.forms import ThresholdsForm
from chargeback.reconciliation.thresholds import DEFAULTS, save_thresholds, thresholds_of
from chargeback.tenancy.permissions import org_permission


@org_permission("billing.close")
@require_http_methods(["GET", "POST"])
def thresholds(request: HttpRequest, org_slug: str) -> HttpResponse:
    current = thresholds_of(request.org)
    initial = current.as_json()
    form = ThresholdsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        if save_thresholds(request.org, form.thresholds(), actor=request.user):
            messages.success(request, "Saved the reconciliation and readiness thresholds.")
        else:
            messages.info(request, "Nothing changed.")
        return redirect("reconciliation:thresholds", org_slug=request.org.slug)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "current": current, "defaults": DEFAULTS}
    return render(request, "reconciliation/thresholds.html", context, status=status)
