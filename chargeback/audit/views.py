import datetime as dt

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chargeback.audit.models import AuditEvent
from chargeback.tenancy.permissions import org_permission


@org_permission("audit.view")
def event_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    qs = AuditEvent.objects.filter(organization=request.org)
    filters = {
        k: request.GET.get(k, "").strip() for k in ("action", "actor", "object", "since", "until")
    }
    if filters["action"]:
        qs = qs.filter(action__startswith=filters["action"])
    if filters["actor"]:
        qs = qs.filter(actor_label__icontains=filters["actor"])
    if filters["object"]:
        qs = qs.filter(object_repr__icontains=filters["object"])
    # Dates are days in the organization's timezone (the page shows times in it); a malformed
    # date is dropped rather than failing the query.
    for key, lookup, days in (("since", "gte", 0), ("until", "lt", 1)):
        if not filters[key]:
            continue
        try:
            day = dt.date.fromisoformat(filters[key]) + dt.timedelta(days=days)
        except (ValueError, OverflowError):
            filters[key] = ""
            continue
        start = dt.datetime.combine(day, dt.time(), request.org.tz)
        qs = qs.filter(**{f"created_at__{lookup}": start})
    actions = (
        AuditEvent.objects.filter(organization=request.org)
        .order_by("action")
        .values_list("action", flat=True)
        .distinct()
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    template = "audit/event_list.html#rows" if request.htmx else "audit/event_list.html"
    return render(request, template, {"page": page, "filters": filters, "actions": actions})
