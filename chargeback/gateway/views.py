"""Gateway pages: the decisions log (filterable, paginated, CSV; a team lead sees its units'
decisions) and the model approvals (admins approve a model for a unit, or revoke it after a
confirmation)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from chargeback.gateway.approvals import approve_model, revoke_approval
from chargeback.gateway.decide import enforcement
from chargeback.gateway.forms import ApprovalForm
from chargeback.gateway.models import ModelApproval, Reason
from chargeback.gateway.queries import OUTCOMES, csv_rows, decisions, read_filters, summary
from chargeback.safecsv import download as csv_download
from chargeback.tenancy.permissions import org_permission
from chargeback.units.queries import visible_unit_ids

PAGE_SIZE = 50


@org_permission("wallets.view")
def decision_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    filters = read_filters(request.GET)
    rows = decisions(request.org, unit_ids=visible_unit_ids(request.membership), filters=filters)
    context = {
        "page": Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page")),
        "filters": filters,
        "counts": summary(rows),
        "outcomes": OUTCOMES,
        "reasons": Reason.choices,
        "setting": enforcement(request.org),
    }
    return render(request, "gateway/decision_list.html", context)


@org_permission("wallets.view")
def decision_csv(request: HttpRequest, org_slug: str) -> HttpResponse:
    filters = read_filters(request.GET)
    rows = decisions(request.org, unit_ids=visible_unit_ids(request.membership), filters=filters)
    return csv_download(csv_rows(rows), "gateway-decisions.csv")


@org_permission("config.manage")
@require_http_methods(["GET", "POST"])
def approval_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = ApprovalForm(request.POST or None, organization=request.org)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            approval = approve_model(organization=request.org, unit=d["unit"],
                                     provider=d["provider"], model=d["model"],
                                     actor=request.user)  # fmt: skip
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Approved {approval}.")
            return redirect("gateway:approval-list", org_slug=org_slug)
    approvals = ModelApproval.objects.filter(organization=request.org).select_related("unit")
    context = {"form": form, "approvals": approvals, "setting": enforcement(request.org)}
    return render(request, "gateway/approval_list.html", context)


@org_permission("config.manage")
@require_http_methods(["GET", "POST"])
def approval_revoke(request: HttpRequest, org_slug: str, approval_id: int) -> HttpResponse:
    approval = get_object_or_404(
        ModelApproval.objects.select_related("unit"), organization=request.org, pk=approval_id
    )
    if request.method == "POST":
        revoke_approval(approval=approval, actor=request.user)
        messages.success(request, f"Revoked {approval}.")
        return redirect("gateway:approval-list", org_slug=org_slug)
    return render(
        request,
        "confirm.html",
        {
            "title": "Revoke the approval?",
            "body": f"Production requests of unit {approval.unit.code} for "
            f"{approval.provider}/{approval.model} will be denied (model_not_approved) in "
            "enforce mode.",
            "action": "Revoke",
            "cancel_url": reverse("gateway:approval-list", kwargs={"org_slug": org_slug}),
        },
    )
