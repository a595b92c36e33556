"""Price-book pages: the current prices, versions and their diff, export, import with a
preview, and model aliases."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chargeback.numbers import counted
from chargeback.pricing.books import (
    DiffLine,
    PriceFileError,
    PriceRow,
    add_alias,
    cell,
    currency_errors,
    delete_alias,
    diff_versions,
    dump_prices,
    export_rows,
    import_prices,
    no_prices_note,
    parse_prices,
    plan_prices,
)
from chargeback.pricing.forms import AliasForm, ApplyForm, ImportForm
from chargeback.pricing.models import RATE_FIELDS, ModelAlias, ModelPrice, PriceVersion
from chargeback.pricing.signals import price_fix_applied
from chargeback.tenancy.permissions import org_permission

PAGE_SIZE = 100
DIFF_COLUMNS = (*RATE_FIELDS, "currency", "source", "source_date")
# The diff tables' headers, as the price book page words them (rates per 1M tokens).
COLUMN_LABELS = {
    "input_per_1m": "Input", "output_per_1m": "Output", "cached_input_per_1m": "Cached input",
    "cache_write_per_1m": "Cache write", "batch_input_per_1m": "Batch input",
    "batch_output_per_1m": "Batch output", "per_request": "Per request", "currency": "Currency",
    "source": "Source", "source_date": "Source date",
}  # fmt: skip
COLUMN_HEADERS = [COLUMN_LABELS.get(c, c) for c in DIFF_COLUMNS]
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def _back_dated(plan: list[DiffLine]) -> list[dict]:
    """The changed or added prices whose date has passed: they apply to usage ingested from now
    on with a timestamp on or after it, while events already stored keep their price."""
    today = timezone.localdate()
    return [
        {"provider": line.key[0], "model": line.key[1], "effective_from": line.key[2]}
        for line in plan
        if line.kind in ("changed", "added") and line.key[2] < today
    ]


def _price_rows(rows: list[PriceRow], today) -> list[dict]:
    """Rows for the table, each marked in force, scheduled or superseded as of `today`."""
    in_force: dict[tuple[str, str], object] = {}
    for r in rows:
        if r.effective_from <= today:
            key = (r.provider, r.model)
            in_force[key] = max(in_force.get(key, r.effective_from), r.effective_from)
    out = []
    for r in rows:
        if r.effective_from > today:
            status = "scheduled"
        elif in_force[(r.provider, r.model)] == r.effective_from:
            status = "in force"
        else:
            status = "superseded"
        out.append({"row": r, "status": status})
    return out


def _diff_rows(lines: list[DiffLine]) -> list[dict]:
    """Diff lines as table rows: one cell per column, before and after, changed or not."""
    out = []
    for line in lines:
        cells = []
        for c in DIFF_COLUMNS:
            before = cell(getattr(line.before, c)) if line.before else ""
            after = cell(getattr(line.after, c)) if line.after else ""
            cells.append(
                {"column": c, "before": before, "after": after, "changed": before != after}
            )
        provider, model, effective = line.key
        out.append(
            {
                "kind": line.kind,
                "provider": provider,
                "model": model,
                "effective_from": effective,
                "cells": cells,
            }
        )
    return out


# Prices and versions -----------------------------------------------------------------------


@org_permission("pricing.view")
@require_GET
def price_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    rows = export_rows(request.org)
    providers = sorted({r.provider for r in rows})
    filters = {
        "provider": request.GET.get("provider", "").strip(),
        "q": request.GET.get("q", "").strip(),
    }
    today = timezone.now().astimezone(request.org.tz).date()
    table = _price_rows(rows, today)
    if filters["provider"]:
        table = [t for t in table if t["row"].provider == filters["provider"]]
    if filters["q"]:
        needle = filters["q"].lower()
        table = [t for t in table if needle in t["row"].model]
    page = Paginator(table, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page, "filters": filters, "providers": providers, "rate_fields": RATE_FIELDS,
        "no_prices_note": no_prices_note(request.org),
    }  # fmt: skip
    return render(request, "pricing/price_list.html", context)


@org_permission("pricing.view")
@require_GET
def price_export(request: HttpRequest, org_slug: str) -> HttpResponse:
    fmt = request.GET.get("format", "csv")
    if fmt not in CONTENT_TYPES:
        raise Http404("Unknown format.")
    body = dump_prices(export_rows(request.org), fmt, formula_safe=True)
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{request.org.slug}-prices.{fmt}"'
    return response


@org_permission("pricing.view")
@require_GET
def version_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    versions = PriceVersion.objects.filter(organization=request.org).annotate(rows=Count("prices"))
    page = Paginator(versions.order_by("-number"), PAGE_SIZE).get_page(request.GET.get("page"))
    numbers = list(
        PriceVersion.objects.filter(organization=request.org)
        .order_by("-number")
        .values_list("number", flat=True)
    )
    compare = {"b": numbers[0] if numbers else None, "a": numbers[1] if len(numbers) > 1 else None}
    context = {"page": page, "filters": {}, "numbers": numbers, "compare": compare}
    return render(request, "pricing/version_list.html", context)


@org_permission("pricing.view")
@require_GET
def version_detail(request: HttpRequest, org_slug: str, version_id: int) -> HttpResponse:
    version = get_object_or_404(PriceVersion, organization=request.org, pk=version_id)
    prices = ModelPrice.objects.filter(organization=request.org, version=version)
    page = Paginator(prices, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "pricing/version_detail.html",
        {"version": version, "page": page, "filters": {}, "rate_fields": RATE_FIELDS},
    )


def _version_number(request: HttpRequest, name: str) -> int:
    value = request.GET.get(name, "")
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        raise Http404("Choose two price versions.")
    number = int(value)
    if not PriceVersion.objects.filter(organization=request.org, number=number).exists():
        raise Http404("No such price version.")
    return number


@org_permission("pricing.view")
@require_GET
def version_diff(request: HttpRequest, org_slug: str) -> HttpResponse:
    """?a=N&b=M: what changed in the book from version N to version M."""
    a, b = _version_number(request, "a"), _version_number(request, "b")
    lines = _diff_rows(diff_versions(request.org, a, b))
    counts = {
        kind: sum(1 for line in lines if line["kind"] == kind)
        for kind in ("added", "changed", "removed")
    }
    context = {"a": a, "b": b, "lines": lines, "counts": counts, "columns": COLUMN_HEADERS}
    return render(request, "pricing/version_diff.html", context)


# Import ------------------------------------------------------------------------------------


def _preview(request: HttpRequest, form: ApplyForm, text: str, fmt: str) -> HttpResponse:
    try:
        rows = parse_prices(text, fmt)
    except PriceFileError as exc:
        return render(request, "pricing/price_import_preview.html", {"errors": exc.errors})
    if errors := currency_errors(request.org, rows):
        return render(request, "pricing/price_import_preview.html", {"errors": errors})
    plan = plan_prices(request.org, rows)
    context = {
        "form": form,
        "lines": _diff_rows(plan),
        "unchanged": len(rows) - len(plan),
        "total": len(rows),
        "columns": COLUMN_HEADERS,
        "back_dated": _back_dated(plan),
    }
    return render(request, "pricing/price_import_preview.html", context)


@org_permission("pricing.manage")
@require_http_methods(["GET", "POST"])
def price_import(request: HttpRequest, org_slug: str) -> HttpResponse:
    """GET: the upload form. POST: the preview of the changes and errors, which writes nothing."""
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        text, fmt = form.cleaned_data["text"], form.cleaned_data["format"]
        label = f"Import of {form.cleaned_data['file'].name}"[:200]
        apply_form = ApplyForm(initial={"text": text, "format": fmt, "label": label})
        return _preview(request, apply_form, text, fmt)
    return render(request, "pricing/price_import.html", {"form": form})


@org_permission("pricing.manage")
@require_POST
def price_import_apply(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Parse the previewed file again and import it as one new version."""
    form = ApplyForm(request.POST)
    if not form.is_valid():
        if form.has_error("text") or form.has_error("format"):
            messages.error(request, "The confirmation carried no price file: upload it again.")
            return redirect("pricing:price-import", org_slug=request.org.slug)
        return _preview(request, form, form.data.get("text", ""), form.data.get("format", "csv"))
    text, fmt = form.cleaned_data["text"], form.cleaned_data["format"]
    try:
        rows = parse_prices(text, fmt)
    except PriceFileError:
        return _preview(request, form, text, fmt)
    if currency_errors(request.org, rows):
        return _preview(request, form, text, fmt)
    version, changes = import_prices(
        request.org, rows, actor=request.user, label=form.cleaned_data["label"]
    )
    if version is None:
        messages.info(request, f"No changes: all {len(rows)} prices are already in force.")
    else:
        messages.success(
            request,
            f"price version {version.number}: {counted(len(changes), 'price')} added or changed",
        )
        price_fix_applied.send(price_import_apply, request=request, cause="waiting for a price")
    return redirect("pricing:version-list", org_slug=request.org.slug)


# Model aliases -----------------------------------------------------------------------------


def _alias_list_url(request: HttpRequest) -> str:
    return reverse("pricing:alias-list", args=[request.org.slug])


@org_permission("pricing.view")
@require_GET
def alias_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    aliases = ModelAlias.objects.filter(organization=request.org).order_by("raw", "provider")
    q = request.GET.get("q", "").replace("\x00", "").strip()
    if q:
        aliases = aliases.filter(Q(raw__icontains=q) | Q(canonical_model__icontains=q))
    page = Paginator(aliases, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "pricing/alias_list.html", {"page": page, "filters": {"q": q}})


@org_permission("pricing.manage")
@require_http_methods(["GET", "POST"])
def alias_create(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = AliasForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            alias = add_alias(organization=request.org, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request, f"The alias {alias} was added. It applies to usage ingested from now on."
            )
            price_fix_applied.send(
                alias_create, request=request, cause="waiting for a price or a model name"
            )
            return redirect(_alias_list_url(request))
    known = ModelPrice.objects.filter(organization=request.org)
    context = {
        "form": form,
        "cancel_url": _alias_list_url(request),
        "providers": known.order_by("provider").values_list("provider", flat=True).distinct(),
        "models": known.order_by("model").values_list("model", flat=True).distinct(),
    }
    return render(request, "pricing/alias_form.html", context)


@org_permission("pricing.manage")
@require_http_methods(["GET", "POST"])
def alias_delete(request: HttpRequest, org_slug: str, alias_id: int) -> HttpResponse:
    alias = get_object_or_404(ModelAlias, organization=request.org, pk=alias_id)
    if request.method == "POST":
        delete_alias(alias=alias, actor=request.user)
        messages.success(request, f"The alias {alias} was deleted.")
        return redirect(_alias_list_url(request))
    return render(
        request,
        "confirm.html",
        {
            "title": f"Delete the alias {alias}?",
            "body": "Usage ingested from now on with this raw name is normalised by the built-in "
            "rules only, and may be quarantined for want of a price. Usage already ingested keeps its price.",
            "action": "Delete",
            "cancel_url": _alias_list_url(request),
        },
    )
