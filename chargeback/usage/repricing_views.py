"""Pages for re-pricing a past range: the runs, a form with a preview, and a run's adjustments."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from chargeback.calendar import month_bounds
from chargeback.numbers import counted, exact_money
from chargeback.pricing.models import PriceAdjustment, RepricingRun
from chargeback.tenancy.permissions import org_permission
from chargeback.usage.repricing import plan_repricing, reprice_range


class RepricingForm(forms.Form):
    first_day = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    last_day = forms.DateField(
        label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(
        label="Why",
        max_length=500,
        min_length=5,
        help_text="Kept in the audit log, e.g. the invoice that corrected a price.",
    )

    def clean(self) -> dict:
        data = super().clean()
        first, last = data.get("first_day"), data.get("last_day")
        if first and last and last < first:
            self.add_error("last_day", "The range ends before it starts.")
        if first and last and (last - first).days > 366:
            self.add_error("last_day", "Re-price at most one year at a time.")
        return data


@org_permission("pricing.view")
def repricing_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    runs = RepricingRun.objects.filter(organization=request.org)
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    return render(request, "pricing/repricing_list.html", {"page": page, "filters": {}})


@org_permission("pricing.manage")
@require_http_methods(["GET", "POST"])
def repricing_create(request: HttpRequest, org_slug: str) -> HttpResponse:
    today = dt.datetime.now(dt.UTC).astimezone(request.org.tz).date()
    form = RepricingForm(
        request.POST or None, initial={"first_day": month_bounds(today)[0], "last_day": today}
    )
    plan = None
    if request.method == "POST" and form.is_valid():
        first, last, note = (form.cleaned_data[k] for k in ("first_day", "last_day", "note"))
        if request.POST.get("confirm") == "1":
            run = reprice_range(
                organization=request.org,
                first_day=first,
                last_day=last,
                note=note,
                actor=request.user,
            )
            messages.success(
                request,
                f"Re-priced {counted(run.events_examined, 'event')}: {run.events_changed:,} changed, difference {exact_money(run.total_delta, request.org.currency)}.",
            )
            return redirect("pricing:repricing-detail", org_slug=org_slug, run_id=run.pk)
        plan = plan_repricing(request.org, first, last)
    return render(request, "pricing/repricing_form.html", {"form": form, "plan": plan})


@org_permission("pricing.view")
def repricing_detail(request: HttpRequest, org_slug: str, run_id: int) -> HttpResponse:
    run = get_object_or_404(RepricingRun, organization=request.org, pk=run_id)
    adjustments = PriceAdjustment.objects.filter(organization=request.org, run=run).select_related(
        "unit"
    )
    page = Paginator(adjustments, 100).get_page(request.GET.get("page"))
    return render(
        request, "pricing/repricing_detail.html", {"run": run, "page": page, "filters": {}}
    )
