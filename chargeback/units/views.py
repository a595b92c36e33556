"""Pages for the organisation structure: units, services, gateway keys, provider accounts and
ownership rules. Lists are filtered to the units the membership may see."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from chargeback.audit.log import record, snapshot
from chargeback.tenancy.permissions import org_permission
from chargeback.units import forms
from chargeback.units.models import (
    BusinessUnit,
    GatewayKey,
    OwnershipRule,
    ProviderAccount,
    Service,
)
from chargeback.units.queries import parent_map, tree_rows, visible_unit_ids, visible_units
from chargeback.units.structure import move_rule, save_entity, set_archived
from chargeback.units.tree import descendants

PAGE_SIZE = 50


@dataclass(frozen=True)
class Entity:
    model: type[models.Model]
    form: type[forms.OrgModelForm]
    name: str  # url prefix: units:<name>-list
    label: str
    search: tuple[str, ...]
    archivable: bool = True


UNIT = Entity(
    BusinessUnit, forms.BusinessUnitForm, "unit", "business unit", ("code", "name", "owner_email")
)
SERVICE = Entity(
    Service, forms.ServiceForm, "service", "service", ("name", "description", "unit__code")
)
KEY = Entity(
    GatewayKey,
    forms.GatewayKeyForm,
    "gatewaykey",
    "gateway key",
    ("key_id", "owner_email", "unit__code", "environment"),
)
ACCOUNT = Entity(
    ProviderAccount,
    forms.ProviderAccountForm,
    "provideraccount",
    "provider account",
    ("provider", "account", "unit__code"),
    archivable=False,
)
RULE = Entity(
    OwnershipRule,
    forms.OwnershipRuleForm,
    "rule",
    "ownership rule",
    (
        "match_team",
        "match_service",
        "match_cost_center",
        "match_environment",
        "match_gateway_key",
        "unit__code",
        "description",
    ),
)


def _list_url(request: HttpRequest, entity: Entity) -> str:
    return reverse(f"units:{entity.name}-list", kwargs={"org_slug": request.org.slug})


def _reachable(request: HttpRequest, qs: models.QuerySet, unit_field: str) -> models.QuerySet:
    ids = visible_unit_ids(request.membership)
    return qs if ids is None else qs.filter(**{f"{unit_field}__in": ids})


def _get(request: HttpRequest, entity: Entity, pk: int) -> models.Model:
    qs = entity.model.objects.filter(organization=request.org)
    qs = _reachable(request, qs, "id" if entity is UNIT else "unit_id")
    return get_object_or_404(qs, pk=pk)


def _filtered(
    request: HttpRequest, entity: Entity, qs: models.QuerySet
) -> tuple[models.QuerySet, dict]:
    q = request.GET.get("q", "").strip()
    show = request.GET.get("show", "active")
    if q:
        cond = Q()
        for field in entity.search:
            cond |= Q(**{f"{field}__icontains": q})
        qs = qs.filter(cond)
    if entity.archivable and show == "archived":
        qs = qs.filter(archived=True)
    elif entity.archivable and show != "all":
        qs = qs.filter(archived=False)
    return qs, {"q": q, "show": show}


def _list(request: HttpRequest, entity: Entity, qs: models.QuerySet, template: str) -> HttpResponse:
    qs, filters = _filtered(request, entity, qs)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "entity": entity, "filters": filters}
    if request.htmx:
        template += "#rows"
    return render(request, template, context)


def _form(request: HttpRequest, entity: Entity, instance: models.Model | None) -> HttpResponse:
    form = entity.form(request.POST or None, instance=instance, organization=request.org)
    if request.method == "POST" and form.is_valid():
        try:
            obj = save_entity(actor=request.user, obj=form.save(commit=False))
        except ValidationError as exc:
            for field, errs in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errs)
        else:
            verb = "updated" if instance else "created"
            messages.success(request, f"The {entity.label} {obj} was {verb}.")
            if entity is UNIT:
                return redirect("units:unit-detail", org_slug=request.org.slug, unit_id=obj.pk)
            return redirect(_list_url(request, entity))
    title = f"Edit {entity.label} {instance}" if instance else f"New {entity.label}"
    return render(
        request,
        "units/object_form.html",
        {"form": form, "entity": entity, "title": title, "cancel_url": _list_url(request, entity)},
    )


def _archive(
    request: HttpRequest, entity: Entity, obj: models.Model, archived: bool
) -> HttpResponse:
    verb = "archive" if archived else "restore"
    if request.method == "POST":
        try:
            set_archived(actor=request.user, obj=obj, archived=archived)
        except ValidationError as exc:
            messages.error(request, f"{obj} cannot be {verb}d: " + " ".join(exc.messages))
        else:
            messages.success(request, f"The {entity.label} {obj} was {verb}d.")
        return redirect(_list_url(request, entity))
    body = (
        f"{obj} will be hidden from lists and pickers and stop matching new usage. "
        "Its history stays. You can restore it later."
        if archived
        else f"{obj} will be active again."
    )
    return render(
        request,
        "confirm.html",
        {
            "title": f"{verb.capitalize()} {entity.label} {obj}?",
            "body": body,
            "action": verb.capitalize(),
            "cancel_url": _list_url(request, entity),
        },
    )


# Business units ---------------------------------------------------------------------------


@org_permission("units.view")
def unit_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    qs, filters = _filtered(
        request, UNIT, visible_units(request.membership).select_related("parent")
    )
    units = list(qs)
    rows = tree_rows(units)
    return render(
        request, "units/unit_list.html", {"rows": rows, "filters": filters, "entity": UNIT}
    )


@org_permission("units.view")
def unit_detail(request: HttpRequest, org_slug: str, unit_id: int) -> HttpResponse:
    unit = _get(request, UNIT, unit_id)
    subtree_ids = descendants(parent_map(request.org), [unit.pk])
    subtree = tree_rows(
        list(BusinessUnit.objects.filter(organization=request.org, id__in=subtree_ids))
    )
    context = {
        "unit": unit,
        "subtree": subtree,
        "services": Service.objects.filter(organization=request.org, unit=unit).order_by("name"),
        "keys": GatewayKey.objects.filter(organization=request.org, unit=unit).select_related(
            "service"
        ),
        "accounts": ProviderAccount.objects.filter(organization=request.org, unit=unit),
        "rules": OwnershipRule.objects.filter(organization=request.org, unit=unit),
        "leads": unit.leads.select_related("user"),
    }
    return render(request, "units/unit_detail.html", context)


@org_permission("units.manage")
@require_http_methods(["GET", "POST"])
def unit_create(request: HttpRequest, org_slug: str) -> HttpResponse:
    return _form(request, UNIT, None)


@org_permission("units.manage")
@require_http_methods(["GET", "POST"])
def unit_edit(request: HttpRequest, org_slug: str, unit_id: int) -> HttpResponse:
    return _form(request, UNIT, _get(request, UNIT, unit_id))


@org_permission("units.manage")
@require_http_methods(["GET", "POST"])
def unit_archive(request: HttpRequest, org_slug: str, unit_id: int) -> HttpResponse:
    return _archive(request, UNIT, _get(request, UNIT, unit_id), True)


@org_permission("units.manage")
@require_http_methods(["GET", "POST"])
def unit_restore(request: HttpRequest, org_slug: str, unit_id: int) -> HttpResponse:
    return _archive(request, UNIT, _get(request, UNIT, unit_id), False)


# Services, gateway keys, provider accounts, ownership rules --------------------------------


def _entity_list(entity: Entity, template: str, related: tuple[str, ...] = ("unit",)):
    @org_permission("units.view")
    def view(request: HttpRequest, org_slug: str) -> HttpResponse:
        qs = entity.model.objects.filter(organization=request.org).select_related(*related)
        return _list(request, entity, _reachable(request, qs, "unit_id"), template)

    view.__name__ = f"{entity.name}_list"
    return view


def _entity_create(entity: Entity):
    @org_permission("units.manage")
    @require_http_methods(["GET", "POST"])
    def view(request: HttpRequest, org_slug: str) -> HttpResponse:
        return _form(request, entity, None)

    view.__name__ = f"{entity.name}_create"
    return view


def _entity_edit(entity: Entity):
    @org_permission("units.manage")
    @require_http_methods(["GET", "POST"])
    def view(request: HttpRequest, org_slug: str, object_id: int) -> HttpResponse:
        return _form(request, entity, _get(request, entity, object_id))

    view.__name__ = f"{entity.name}_edit"
    return view


def _entity_archive(entity: Entity, archived: bool):
    @org_permission("units.manage")
    @require_http_methods(["GET", "POST"])
    def view(request: HttpRequest, org_slug: str, object_id: int) -> HttpResponse:
        return _archive(request, entity, _get(request, entity, object_id), archived)

    view.__name__ = f"{entity.name}_{'archive' if archived else 'restore'}"
    return view


service_list = _entity_list(SERVICE, "units/service_list.html")
gatewaykey_list = _entity_list(KEY, "units/gatewaykey_list.html", ("unit", "service"))
provideraccount_list = _entity_list(ACCOUNT, "units/provideraccount_list.html")
rule_list = _entity_list(RULE, "units/rule_list.html")


@org_permission("units.manage")
@require_http_methods(["GET", "POST"])
def provideraccount_delete(request: HttpRequest, org_slug: str, object_id: int) -> HttpResponse:
    account = _get(request, ACCOUNT, object_id)
    if request.method == "POST":
        record(
            organization=request.org,
            actor=request.user,
            action="provideraccount.deleted",
            obj=account,
            before=snapshot(account),
        )
        account.delete()
        messages.success(request, f"The provider account {account} was deleted.")
        return redirect(_list_url(request, ACCOUNT))
    return render(
        request,
        "confirm.html",
        {
            "title": f"Delete provider account {account}?",
            "body": "New usage from this account will no longer be attributed by it. Past usage keeps its attribution.",
            "action": "Delete",
            "cancel_url": _list_url(request, ACCOUNT),
        },
    )


@org_permission("units.manage")
@require_POST
def rule_move(request: HttpRequest, org_slug: str, object_id: int) -> HttpResponse:
    rule = _get(request, RULE, object_id)
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        raise Http404("Unknown direction.")
    move_rule(actor=request.user, rule=rule, direction=-1 if direction == "up" else 1)
    messages.success(request, f"Rule moved {direction}.")
    return redirect(_list_url(request, RULE))
