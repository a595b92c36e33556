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
    if filters["since"]:
        qs = qs.filter(created_at__date__gte=filters["since"])
    if filters["until"]:
        qs = qs.filter(created_at__date__lte=filters["until"])
    actions = (
        AuditEvent.objects.filter(organization=request.org)
        .order_by("action")
        .values_list("action", flat=True)
        .distinct()
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    template = "audit/event_list.html#rows" if request.htmx else "audit/event_list.html"
    return render(request, template, {"page": page, "filters": filters, "actions": actions})
