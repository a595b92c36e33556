"""Invoice pages (list, upload with a preview, detail) and a month's reconciliation (the three
figures, the waterfall, the breakdown tables with CSV). Finance and admins only."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from chargeback.calendar import Period
from chargeback.reconciliation.absorb import unmapped_keys
from chargeback.reconciliation.charts import waterfall_figure
from chargeback.reconciliation.forms import ConfirmForm, InvoiceUploadForm, PeriodForm
from chargeback.reconciliation.invoice_files import InvoiceFileError
from chargeback.reconciliation.invoices import import_invoice, read_invoice_file
from chargeback.reconciliation.models import ProviderInvoice
from chargeback.reconciliation.queries import reconciliation_of
from chargeback.reconciliation.readiness import readiness_of
from chargeback.reconciliation.report import CAUSE_LABELS, TABLES, cause_rows, table_rows
from chargeback.reconciliation.thresholds import thresholds_of
from chargeback.safecsv import download as csv_download
from chargeback.tenancy.permissions import org_permission

PERM = "billing.close"


def default_period(request: HttpRequest) -> Period:
    """The latest month with an invoice, else last month."""
    latest = (
        ProviderInvoice.objects.filter(organization=request.org)
        .order_by("-month")
        .values_list("month", flat=True)
        .first()
    )
    return Period.of(latest) if latest else Period.current(request.org.tz).previous


@org_permission(PERM)
@require_GET
def invoice_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    invoices = (
        ProviderInvoice.objects.filter(organization=request.org)
        .annotate(line_count=Count("lines"))
        .order_by("-month", "provider")[:500]
    )
    return render(request, "reconciliation/invoice_list.html", {"invoices": invoices})


@org_permission(PERM)
@require_GET
def invoice_detail(request: HttpRequest, org_slug: str, invoice_id: int) -> HttpResponse:
    invoice = get_object_or_404(ProviderInvoice, organization=request.org, pk=invoice_id)
    lines = invoice.lines.order_by("position")[:2000]
    return render(request, "reconciliation/invoice_detail.html",
                  {"invoice": invoice, "lines": lines})  # fmt: skip


@org_permission(PERM)
@require_http_methods(["GET", "POST"])
def invoice_upload(request: HttpRequest, org_slug: str) -> HttpResponse:
    """GET: the form. POST a file or typed lines: the preview (writes nothing). POST the
    confirmation: the same text checked again, then written."""
    if request.method == "POST" and "text" in request.POST:
        return _confirm(request)
    form = InvoiceUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        return _preview(request, data["period"], data["format"], data["source"],
                        data["filename"], data["text"])  # fmt: skip
    status = 400 if request.method == "POST" else 200
    return render(request, "reconciliation/invoice_upload.html", {"form": form}, status=status)


def _preview(request, period_text, fmt, source, filename, text) -> HttpResponse:
    period = Period.parse(period_text) if isinstance(period_text, str) else period_text
    try:
        lines, errors = read_invoice_file(request.org, period, text, fmt), []
    except InvoiceFileError as exc:
        lines, errors = [], [str(e) for e in exc.errors[:200]]
    confirm = ConfirmForm(
        initial={
            "period": period.label,
            "format": fmt,
            "source": source,
            "filename": filename,
            "text": text,
        }  # fmt: skip
    )
    context = {"period": period, "lines": lines, "errors": errors, "confirm": confirm,
               "total": sum(line.amount for line in lines)}  # fmt: skip
    return render(request, "reconciliation/invoice_preview.html", context)


def _confirm(request: HttpRequest) -> HttpResponse:
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The confirmation carried no invoice: upload it again.")
        return redirect("reconciliation:invoice-upload", org_slug=request.org.slug)
    data = form.cleaned_data
    period = data["period"]
    try:
        lines = read_invoice_file(request.org, period, data["text"], data["format"])
        invoices = import_invoice(
            organization=request.org, period=period, lines=lines, source=data["source"],
            actor=request.user, filename=data["filename"],
        )  # fmt: skip
    except InvoiceFileError:
        return _preview(request, period, data["format"], data["source"], data["filename"],
                        data["text"])  # fmt: skip
    names = ", ".join(f"{i.provider}" for i in invoices)
    messages.success(request, f"Imported the {period.title} invoice of {names}.")
    return redirect(f"{_url(request, 'reconciliation:reconciliation')}?period={period.label}")


def _url(request: HttpRequest, name: str) -> str:
    return reverse(name, kwargs={"org_slug": request.org.slug})


@org_permission(PERM)
@require_GET
def reconciliation(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = PeriodForm(request.GET)
    if not form.is_valid():
        context = {"form": form, "thresholds": thresholds_of(request.org)}
        return render(request, "reconciliation/reconciliation.html", context, status=400)
    period = form.cleaned_data["period"] or default_period(request)
    result = reconciliation_of(request.org, period)
    wanted = request.GET.get("csv")
    if wanted:
        if wanted == "causes":
            rows = cause_rows(result)
        elif wanted in TABLES:
            attr, heading = TABLES[wanted]
            rows = table_rows(getattr(result, attr), heading)
        else:
            raise Http404("No such table.")
        return csv_download(rows, f"reconciliation-{period.label}-{wanted}.csv")
    invoices = ProviderInvoice.objects.filter(organization=request.org, month=period.first)
    context = {
        "form": form,
        "period": period,
        "result": result,
        "invoices": list(invoices),
        "causes": [(CAUSE_LABELS[c.cause], c) for c in result.causes],
        "figure": waterfall_figure(result),
        "thresholds": thresholds_of(request.org),
        "tables": [
            (key, heading, getattr(result, attr)) for key, (attr, heading) in TABLES.items()
        ],
    }
    return render(request, "reconciliation/reconciliation.html", context)


@org_permission(PERM)
@require_GET
def readiness(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = PeriodForm(request.GET)
    if not form.is_valid():
        context = {"form": form, "thresholds": thresholds_of(request.org)}
        return render(request, "reconciliation/readiness.html", context, status=400)
    period = form.cleaned_data["period"] or default_period(request)
    thresholds = thresholds_of(request.org)
    rows = readiness_of(request.org, period, thresholds)
    context = {"form": form, "period": period, "rows": rows, "thresholds": thresholds,
               "ready": sum(1 for r in rows if r.ready),
               "unmapped": unmapped_keys(request.org, period, thresholds.absorb_grace_months),
               "grace": thresholds.absorb_grace_months}  # fmt: skip
    return render(request, "reconciliation/readiness.html", context)
