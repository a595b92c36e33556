"""Budget pages: budgets with forecasts (finance and admins set them), alerts (the bell's page),
webhook settings and the delivery log."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from chargeback.budgets import inbox, setting
from chargeback.budgets.forms import BudgetForm, WebhookForm
from chargeback.budgets.models import Budget, Delivery, Webhook
from chargeback.budgets.status import budget_statuses, org_outlook
from chargeback.tenancy.permissions import org_permission
from chargeback.units.models import BusinessUnit
from chargeback.units.queries import visible_unit_ids


@org_permission("budgets.view")
def budget_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    reach = visible_unit_ids(request.membership)
    statuses = budget_statuses(request.org, unit_ids=reach)
    units = BusinessUnit.objects.filter(organization=request.org, archived=False)
    if reach is not None:
        units = units.filter(pk__in=reach)
    budgeted = {s.budget.unit_id for s in statuses}
    return render(
        request,
        "budgets/budget_list.html",
        {
            "statuses": statuses,
            "period": statuses[0].period if statuses else None,
            "unbudgeted": [u for u in units.order_by("code") if u.pk not in budgeted],
            "outlook": org_outlook(request.org) if reach is None else None,
        },
    )


@org_permission("budgets.manage")
def budget_edit(request: HttpRequest, org_slug: str, unit_id: int) -> HttpResponse:
    unit = get_object_or_404(BusinessUnit, organization=request.org, pk=unit_id)
    budget = Budget.objects.filter(organization=request.org, unit=unit).first()
    if request.method == "POST" and request.POST.get("action") == "delete" and budget:
        setting.remove_budget(organization=request.org, budget=budget, actor=request.user)
        messages.success(request, f"The budget of {unit.code} was removed.")
        return redirect("budgets:budget-list", org_slug=org_slug)
    initial = {"currency": request.org.currency}
    if budget is not None:
        initial |= {
            "amount": budget.amount,
            "thresholds": ", ".join(str(t) for t in budget.thresholds),
            "hard": budget.hard,
            "include_descendants": budget.include_descendants,
        }
    form = BudgetForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            _saved, changed = setting.set_budget(
                organization=request.org,
                unit=unit,
                amount=d["amount"],
                currency=d["currency"],
                thresholds=d["thresholds"],
                hard=d["hard"],
                include_descendants=d["include_descendants"],
                actor=request.user,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            note = "saved" if changed else "unchanged"
            messages.success(request, f"The budget of {unit.code} was {note}.")
            return redirect("budgets:budget-list", org_slug=org_slug)
    return render(
        request, "budgets/budget_form.html", {"form": form, "unit": unit, "budget": budget}
    )


@org_permission("alerts.view")
def alert_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    membership = request.membership
    if request.method == "POST":
        ids = [int(i) for i in request.POST.getlist("alert") if i.isdigit()]
        count = inbox.mark_read(membership, alert_ids=ids or None)
        messages.success(request, f"{count} alert(s) marked as read.")
        return redirect("budgets:alert-list", org_slug=org_slug)
    alerts = inbox.alerts_for(membership)
    page = Paginator(alerts, 50).get_page(request.GET.get("page"))
    read = inbox.read_ids(membership)
    unread = {a.pk for a in page if a.pk not in read}
    return render(request, "budgets/alert_list.html", {"page": page, "unread": unread})


@org_permission("budgets.manage")
def webhook_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = WebhookForm(request.POST or None if request.POST.get("action") == "create" else None)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create" and form.is_valid():
            try:
                setting.add_webhook(
                    organization=request.org, actor=request.user, **form.cleaned_data
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                messages.success(request, "Webhook added.")
                return redirect("budgets:webhook-list", org_slug=org_slug)
        elif action in ("activate", "deactivate"):
            pk = request.POST.get("webhook", "")
            if not pk.isdigit():
                raise Http404
            hook = get_object_or_404(Webhook, organization=request.org, pk=int(pk))
            setting.set_webhook_active(
                organization=request.org, hook=hook, active=action == "activate", actor=request.user
            )
            return redirect("budgets:webhook-list", org_slug=org_slug)
    hooks = Webhook.objects.filter(organization=request.org)
    return render(request, "budgets/webhook_list.html", {"hooks": hooks, "form": form})


@org_permission("budgets.manage")
def delivery_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    qs = Delivery.objects.filter(organization=request.org).select_related("alert__unit", "webhook")
    status = request.GET.get("status", "")
    if status in {"pending", "sent", "failed"}:
        qs = qs.filter(status=status)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "budgets/delivery_list.html", {"page": page, "status": status})
