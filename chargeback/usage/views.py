"""Pages for usage: ingestion keys, uploads and ingest batches. The quarantine pages are in
quarantine_views.py."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods

from chargeback.tenancy.permissions import org_permission
from chargeback.usage.adapters.redact import Unreadable
from chargeback.usage.forms import KeyForm, UploadForm
from chargeback.usage.ingest import create_batch
from chargeback.usage.keys import create_key, revoke_key
from chargeback.usage.models import BatchStatus, IngestBatch, IngestionKey, QuarantinedEvent
from chargeback.usage.retry import retry_batch

PAGE_SIZE = 50
BATCH_QUARANTINE_SHOWN = 20


def _actor_label(request: HttpRequest) -> str:
    return request.user.email or request.user.get_username()


# Ingestion keys ----------------------------------------------------------------------------


@org_permission("keys.manage")
@require_GET
def ingestionkey_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    keys = IngestionKey.objects.filter(organization=request.org).order_by("-created_at", "-id")
    page = Paginator(keys, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "usage/ingestionkey_list.html", {"page": page, "filters": {}})


CREATED_KEYS = "ingestion_keys_created"  # session: form nonce -> the key it created


@org_permission("keys.manage")
@require_http_methods(["GET", "POST"])
def ingestionkey_create(request: HttpRequest, org_slug: str) -> HttpResponse:
    created = request.session.get(CREATED_KEYS, {})
    nonce = request.POST.get("nonce", "")
    if request.method == "POST" and nonce in created:
        # The same form again (the secret's page reloaded): no second key, and no secret.
        key = IngestionKey.objects.filter(organization=request.org, pk=created[nonce]).first()
        if key is not None:
            return render(request, "usage/ingestionkey_created.html", {"key": key, "again": True})
    form = KeyForm(request.POST or None, organization=request.org)
    if request.method == "POST" and form.is_valid():
        key, secret = create_key(
            organization=request.org, name=form.cleaned_data["name"], actor=request.user
        )
        if nonce:
            created = dict(list(created.items())[-19:])  # the last 20 forms are remembered
            created[nonce] = key.pk
            request.session[CREATED_KEYS] = created
        # Rendered, not redirected: the secret is never stored, so this page is its only showing.
        response = render(
            request,
            "usage/ingestionkey_created.html",
            # the host in use (behind a proxy: its forwarded host), not SITE_URL's
            {"key": key, "secret": secret, "site_url": request.build_absolute_uri("/").rstrip("/")},
        )
        add_never_cache_headers(response)
        return response
    return render(
        request,
        "usage/ingestionkey_form.html",
        {"form": form, "cancel_url": reverse("usage:ingestionkey-list", args=[request.org.slug])},
    )


@org_permission("keys.manage")
@require_http_methods(["GET", "POST"])
def ingestionkey_revoke(request: HttpRequest, org_slug: str, ingestion_key_id: int) -> HttpResponse:
    key = get_object_or_404(IngestionKey, organization=request.org, pk=ingestion_key_id)
    list_url = reverse("usage:ingestionkey-list", args=[request.org.slug])
    if not key.active:
        messages.info(request, f"The key {key} is already revoked.")
        return redirect(list_url)
    if request.method == "POST":
        revoke_key(key=key, actor=request.user)
        messages.success(request, f"The key {key} was revoked. Requests with it now get 401.")
        return redirect(list_url)
    return render(
        request,
        "confirm.html",
        {
            "title": f"Revoke ingestion key {key}?",
            "body": "Anything that posts usage with this key will be refused from now on. "
            "Revoking cannot be undone: create a new key instead.",
            "action": "Revoke",
            "cancel_url": list_url,
        },
    )


# Uploads and batches -----------------------------------------------------------------------


@org_permission("usage.ingest")
@require_http_methods(["GET", "POST"])
def batch_upload(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        upload.seek(0)
        try:  # LiteLLM and OTel files lose their message text here, as in the API and command
            batch = create_batch(
                organization=request.org,
                payload=upload,
                fmt=form.cleaned_data["format"],
                source="upload",
                filename=upload.name,
                created_by=_actor_label(request),
            )
        except Unreadable as exc:
            form.add_error("file", f"The file cannot be read to remove message text: {exc}.")
        else:
            messages.success(request, f"Uploaded {upload.name} as batch {batch.pk}.")
            return redirect("usage:batch-detail", org_slug=request.org.slug, batch_id=batch.pk)
    return render(request, "usage/batch_upload.html", {"form": form})


@org_permission("usage.view")
@require_GET
def batch_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    batches = IngestBatch.objects.filter(organization=request.org).order_by("-created_at", "-id")
    page = Paginator(batches, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "usage/batch_list.html", {"page": page, "filters": {}})


@org_permission("usage.view")
@require_GET
def batch_detail(request: HttpRequest, org_slug: str, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(IngestBatch, organization=request.org, pk=batch_id)
    running = batch.status in (BatchStatus.RECEIVED, BatchStatus.PROCESSING)
    if request.htmx:
        response = render(
            request, "usage/batch_detail.html#progress", {"batch": batch, "running": running}
        )
        if not running:
            response["HX-Refresh"] = "true"  # show the final counts and the quarantined records
        return response
    quarantined = QuarantinedEvent.objects.filter(organization=request.org, batch=batch).order_by(
        "line"
    )
    context = {
        "batch": batch,
        "running": running,
        "quarantined": quarantined[:BATCH_QUARANTINE_SHOWN],
        "quarantined_count": quarantined.count(),
        "replayed_from": QuarantinedEvent.objects.filter(
            organization=request.org, replayed_in=batch
        ).count(),
    }
    return render(request, "usage/batch_detail.html", context)


@org_permission("usage.ingest")
@require_http_methods(["GET", "POST"])
def batch_retry(request: HttpRequest, org_slug: str, batch_id: int) -> HttpResponse:
    """GET: the confirmation, with the batch's error; POST with `confirm`: retry it."""
    batch = get_object_or_404(IngestBatch, organization=request.org, pk=batch_id)
    if batch.status != BatchStatus.FAILED:
        messages.info(
            request,
            f"Batch {batch.pk} is {batch.get_status_display().lower()}: only a failed batch can be retried.",
        )
        return redirect("usage:batch-detail", org_slug=request.org.slug, batch_id=batch.pk)
    if request.method == "POST" and "confirm" in request.POST:
        retry_batch(batch=batch, actor=request.user)
        messages.success(request, f"Batch {batch.pk} is queued again.")
        return redirect("usage:batch-detail", org_slug=request.org.slug, batch_id=batch.pk)
    return render(request, "usage/batch_retry.html", {"batch": batch})
