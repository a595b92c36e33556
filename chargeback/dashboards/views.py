"""The organization's home. Spend figures arrive with ingestion; until then it shows the
structure's readiness: units with owners, keys mapped, rules, members."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chargeback.tenancy.permissions import org_permission
from chargeback.units.models import GatewayKey, OwnershipRule, Service
from chargeback.units.queries import visible_unit_ids, visible_units


@org_permission("org.view")
def overview(request: HttpRequest, org_slug: str) -> HttpResponse:
    units = visible_units(request.membership).filter(archived=False)
    ids = visible_unit_ids(request.membership)

    def reach(qs):  # noqa: ANN001, ANN202
        return qs if ids is None else qs.filter(unit_id__in=ids)

    figures = {
        "units": units.count(),
        "chargeback_units": units.filter(billing_mode="chargeback").count(),
        "services": reach(Service.objects.filter(organization=request.org, archived=False)).count(),
        "keys": reach(GatewayKey.objects.filter(organization=request.org, archived=False)).count(),
        "rules": reach(
            OwnershipRule.objects.filter(organization=request.org, archived=False)
        ).count(),
    }
    led = request.membership.units.all() if ids is not None else []
    return render(request, "dashboards/overview.html", {"figures": figures, "led_units": led})
