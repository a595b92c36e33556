"""The enforcement list page (finance and admins): keys and tags whose costs the central bucket
absorbed because no unit owned them (`enforcement`), newest first, with their disputes."""

from __future__ import annotations

from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from chargeback.disputes.models import EnforcementItem
from chargeback.tenancy.permissions import org_permission


@org_permission("disputes.resolve")
@require_GET
def enforcement_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    items = list(
        EnforcementItem.objects.filter(organization=request.org)
        .select_related("dispute__statement", "dispute__unit")
        .order_by("-absorbed_on", "-pk")[:1000]
    )
    total = sum((i.amount for i in items), Decimal(0))
    context = {"items": items, "total": total, "policy": request.org.dispute_absorb_policy}
    return render(request, "disputes/enforcement_list.html", context)
