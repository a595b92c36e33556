"""The quarantine pages: list with filters, one record to fix, and the replay and discard
actions (one record, a selection, or every open record with a reason)."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chargeback.pricing.signals import price_fix_applied
from chargeback.tenancy.permissions import org_permission
from chargeback.usage.forms import DiscardForm, FixForm
from chargeback.usage.models import IngestBatch, QuarantinedEvent, QuarantineStatus
from chargeback.usage.pipeline import check_record
from chargeback.usage.quarantine import discard, fix_record, replay, replay_hint

PAGE_SIZE = 50
STATUSES = ("open", "replayed", "discarded", "all")
# What each reason code means, for the filter (a record is filed under its first reason).
REASON_LABELS = {
    "missing_field": "A required field is missing",
    "missing_tag": "A required tag is missing",
    "bad_type": "A field has the wrong type",
    "bad_value": "A value is out of range or invalid",
    "bad_tokens": "Token counts do not add up",
    "negative_tokens": "A token count is negative",
    "bad_timestamp": "The timestamp cannot be read",
    "future_timestamp": "The timestamp is in the future",
    "unknown_field": "An unknown field",
    "no_price": "No price for the model",
    "malformed": "Not valid JSON or CSV",
    "encoding": "Not UTF-8",
    "conflicting_duplicate": "Request id already ingested with other usage",
}
SHOWN_IN_CONFIRMATION = 20
REASON_CODE = re.compile(r"[\w.-]{1,40}", re.ASCII)


FILTER_KEYS = ("reason", "status", "batch", "page")


@receiver(price_fix_applied)
def offer_replay(sender, *, request: HttpRequest, cause: str, **kwargs) -> None:
    """After a price import or a new model alias: offer to replay the records waiting for a
    price (UsageConfig.ready connects it)."""
    hint = replay_hint(request, "no_price", cause)
    if hint:
        messages.info(request, hint)


def _list_url(request: HttpRequest) -> str:
    """The list, with the filters it was left with (the `filters` the selection form carries),
    so an action on a filtered page comes back to it."""
    base = reverse("usage:quarantine-list", args=[request.org.slug])
    params = request.POST if request.method == "POST" else request.GET
    kept = QueryDict(params.get("filters", ""))
    chosen = {k: kept[k] for k in FILTER_KEYS if kept.get(k)}
    return f"{base}?{urlencode(chosen)}" if chosen else base


def _open(request: HttpRequest) -> QuerySet[QuarantinedEvent]:
    return QuarantinedEvent.objects.filter(organization=request.org, status=QuarantineStatus.OPEN)


def _chosen(request: HttpRequest) -> list[QuarantinedEvent]:
    """The open records named by the `ids` of the request (malformed ids are ignored)."""
    raw = request.POST.getlist("ids") if request.method == "POST" else request.GET.getlist("ids")
    ids = {int(i) for i in raw if _is_id(i)}
    return list(_open(request).filter(pk__in=ids).order_by("pk")) if ids else []


def _is_id(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) < 19


def _batch_param(params: QueryDict) -> str:
    """The `batch` filter as a string of digits, or "" when absent or malformed."""
    batch = params.get("batch", "").strip()
    return batch if _is_id(batch) else ""


def _reason_param(params: QueryDict) -> str:
    """A reason code (letters, digits, _ . -), or "" when absent or malformed."""
    reason = params.get("reason", "").strip()
    return reason if REASON_CODE.fullmatch(reason) else ""


def _after_replay(request: HttpRequest, batch: IngestBatch | None, count: int) -> HttpResponse:
    if batch is None:
        messages.warning(request, "None of the chosen records is still open: nothing replayed.")
        return redirect(_list_url(request))
    messages.success(
        request,
        f"Replayed {count} record{'' if count == 1 else 's'} as batch {batch.pk}. Records that "
        "fail again come back to the quarantine in that batch.",
    )
    return redirect("usage:batch-detail", org_slug=request.org.slug, batch_id=batch.pk)


@org_permission("usage.view")
@require_GET
def quarantine_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    qs = QuarantinedEvent.objects.filter(organization=request.org)
    status = request.GET.get("status", "open")
    if status not in STATUSES:
        status = "open"
    if status != "all":
        qs = qs.filter(status=status)
    batch = _batch_param(request.GET)
    if batch:
        qs = qs.filter(batch_id=int(batch))
    elif request.GET.get("batch", "").strip():
        messages.warning(request, "The batch filter takes a batch number: showing every batch.")
    reasons = list(qs.values("reason").annotate(n=Count("id")).order_by("reason"))
    for r in reasons:
        r["label"] = REASON_LABELS.get(r["reason"], r["reason"].replace("_", " ").capitalize())
    reason = _reason_param(request.GET)
    if reason:
        qs = qs.filter(reason=reason)
    filters = {"status": status, "reason": reason, "batch": batch}
    page = Paginator(qs.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "filters": filters, "reasons": reasons, "statuses": STATUSES}
    return render(request, "usage/quarantine_list.html", context)


@org_permission("usage.view")
@require_GET
def quarantine_detail(request: HttpRequest, org_slug: str, quarantine_id: int) -> HttpResponse:
    item = get_object_or_404(QuarantinedEvent, organization=request.org, pk=quarantine_id)
    form = FixForm(initial={"raw": FixForm.initial_text(item.raw)})
    return render(request, "usage/quarantine_detail.html", {"item": item, "form": form})


@org_permission("quarantine.resolve")
@require_POST
def quarantine_fix(request: HttpRequest, org_slug: str, quarantine_id: int) -> HttpResponse:
    """Save the corrected record; with `replay`, send it through the pipeline at once."""
    item = get_object_or_404(QuarantinedEvent, organization=request.org, pk=quarantine_id)
    detail = reverse("usage:quarantine-detail", args=[request.org.slug, item.pk])
    if item.status != QuarantineStatus.OPEN:
        messages.warning(request, f"This record is already {item.get_status_display().lower()}.")
        return redirect(detail)
    form = FixForm(request.POST)
    if form.is_valid():
        try:
            fix_record(item=item, raw=form.cleaned_data["raw"], actor=request.user)
        except ValidationError as exc:
            form.add_error("raw", exc.message_dict.get("raw", exc.messages))
        else:
            problems = check_record(request.org, json.loads(item.raw))
            if not problems and "replay" in request.POST:
                batch = replay(organization=request.org, items=[item], actor=request.user)
                return _after_replay(request, batch, 1)
            if not problems:
                messages.success(request, "The record was saved. Replay it when it is ready.")
                return redirect(detail)
            # Saved, but a replay would only quarantine it again: say why, on the form.
            for reason in problems:
                form.add_error("raw", f"{reason.field}: {reason.problem}")
            replaying = "replay" in request.POST
            messages.warning(
                request,
                "Your change was saved, but the record would still be quarantined"
                + (", so it was not replayed" if replaying else "")
                + ". Fix what is listed below, or fix the cause (a price, an alias, a key "
                "mapping) and replay it then.",
            )
    return render(request, "usage/quarantine_detail.html", {"item": item, "form": form})


@org_permission("quarantine.resolve")
@require_POST
def quarantine_replay(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Replay the selected records (replaying does not destroy anything: no confirmation)."""
    items = _chosen(request)
    if not items:
        messages.warning(request, "Select at least one open record to replay.")
        return redirect(_list_url(request))
    batch = replay(organization=request.org, items=items, actor=request.user)
    return _after_replay(request, batch, len(items))


@org_permission("quarantine.resolve")
@require_http_methods(["GET", "POST"])
def quarantine_replay_all(request: HttpRequest, org_slug: str) -> HttpResponse:
    """GET ?reason=X[&batch=N]: the confirmation with the count; POST: replay every open record
    with that reason (in that batch)."""
    params = request.POST if request.method == "POST" else request.GET
    reason, batch = _reason_param(params), _batch_param(params)
    qs = _open(request).filter(reason=reason)
    if batch:
        qs = qs.filter(batch_id=int(batch))
    items = list(qs.order_by("pk")) if reason else []
    if not items:
        messages.warning(request, "No open records with that reason: nothing to replay.")
        return redirect(_list_url(request))
    if request.method == "POST":
        batch = replay(organization=request.org, items=items, actor=request.user)
        return _after_replay(request, batch, len(items))
    n = len(items)
    return render(
        request,
        "usage/quarantine_confirm.html",
        {
            "title": f"Replay all {n} open record{'' if n == 1 else 's'} with the reason “{reason}”"
            + (f" in batch {batch}?" if batch else "?"),
            "body": "They go through the pipeline again as one new batch. Records that fail "
            "again come back to the quarantine in that batch.",
            "action": f"Replay {n} record{'' if n == 1 else 's'}",
            "items": items[:SHOWN_IN_CONFIRMATION],
            "count": n,
            "hidden": {"reason": reason, "batch": batch},
            "cancel_url": reverse("usage:quarantine-list", args=[request.org.slug])
            + f"?{urlencode({'reason': reason, 'batch': batch})}",
        },
    )


@org_permission("quarantine.resolve")
@require_http_methods(["GET", "POST"])
def quarantine_discard(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The confirmation (with a reason) for the chosen records; POST with `confirm` discards."""
    items = _chosen(request)
    if not items:
        messages.warning(request, "Select at least one open record to discard.")
        return redirect(_list_url(request))
    confirmed = request.method == "POST" and "confirm" in request.POST
    form = DiscardForm(request.POST if confirmed else None)
    if confirmed and form.is_valid():
        try:
            n = discard(
                organization=request.org,
                items=items,
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except ValidationError as exc:
            form.add_error("reason", exc.message_dict.get("reason", exc.messages))
        else:
            messages.success(request, f"Discarded {n} record{'' if n == 1 else 's'}.")
            return redirect(_list_url(request))
    n = len(items)
    return render(
        request,
        "usage/quarantine_confirm.html",
        {
            "title": f"Discard {n} record{'' if n == 1 else 's'}?",
            "body": "Discarded records are never billed. They stay listed under “Discarded” "
            "with your reason.",
            "action": f"Discard {n} record{'' if n == 1 else 's'}",
            "danger": True,
            "form": form,
            "items": items[:SHOWN_IN_CONFIRMATION],
            "count": n,
            "ids": [i.pk for i in items],
            "hidden": {"filters": request.POST.get("filters", "")},
            "cancel_url": _list_url(request),
        },
    )
