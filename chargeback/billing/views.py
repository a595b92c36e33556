"""Pages of the month-end close, for finance: open a month, generate the drafts (a task with
progress), review them against the month's cost, issue, close; the period's PDFs and lines.
The work is done by `close` and queued through `tasks`; what may happen when, and the
refusals, are `period_state`'s. These views look things up through the tenant, call one
operation and redirect or render. The statement pages are in statement_views.py."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chargeback.billing import close, close_gates, documents, period_state
from chargeback.billing.forms import OpenPeriodForm
from chargeback.billing.inputs import month_totals
from chargeback.billing.models import (
    BillingPeriod,
    DraftStatus,
    PdfStatus,
    PeriodState,
    Statement,
    StatementLine,
    StatementMode,
)
from chargeback.billing.period_state import CloseError
from chargeback.billing.staleness import stale_reasons
from chargeback.billing.statement_views import attachment, org_today, pdf_bytes
from chargeback.billing.tasks import queue_drafts, queue_pdfs
from chargeback.calendar import Period
from chargeback.money import quantize
from chargeback.tenancy.permissions import org_permission
from chargeback.units.attribution import CENTRAL
from chargeback.usage.models import DailyUsage
from chargeback.wording import plural

PAGE_SIZE = 50
ZERO = Decimal(0)
# The line kinds that explain the difference between the month's cost and the statements: the
# first six always shown, the others when a statement has them.
BALANCE_KINDS = {
    "markup": "Tier markups",
    "platform_fee": "Platform fees",
    "pool": "Shared-cost pools",
    "discount": "Discounts",
    "allowance": "Development allowances",
    "adjustment": "Adjustments for earlier months",
    "activity": "Activity rates",
    "confidence": "Low-confidence spend to the central bucket",
    "true_up": "True-ups",
    "credit": "Credits",
}
ALWAYS_SHOWN = ("markup", "platform_fee", "pool", "discount", "allowance", "adjustment")


def _period(request: HttpRequest, period_id: int) -> BillingPeriod:
    return get_object_or_404(BillingPeriod, organization=request.org, pk=period_id)


def _month(billing: BillingPeriod) -> Period:
    return Period.parse(billing.label)


def _close_url(request: HttpRequest, billing: BillingPeriod) -> str:
    return reverse("billing:period-detail", args=[request.org.slug, billing.pk])


# Periods ----------------------------------------------------------------------------------


@org_permission("billing.close")
@require_http_methods(["GET", "POST"])
def period_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = OpenPeriodForm(request.POST or None, organization=request.org)
    if request.method == "POST" and form.is_valid():
        month: Period = form.cleaned_data["month"]
        billing, created = BillingPeriod.objects.get_or_create(
            organization=request.org, month=month.first
        )
        if created:
            messages.success(request, f"{billing.title} is open for closing.")
        else:
            state = billing.get_state_display().lower()
            messages.info(request, f"{billing.title} was opened before; it is {state}.")
        return redirect(_close_url(request, billing))
    periods = BillingPeriod.objects.filter(organization=request.org).annotate(
        statement_count=Count("statements"), statement_total=Sum("statements__total")
    )
    page = Paginator(periods.order_by("-month"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "billing/period_list.html", {"form": form, "page": page, "filters": {}})


@dataclass(frozen=True)
class Balance:
    """The drafts against the month's cost: the usage cost (to the cent), the rounding of the
    usage lines and each other kind of line add up to the sum of the statements."""

    usage_cost: Decimal
    rounding: Decimal
    kinds: list[tuple[str, str, Decimal]]  # (kind, label, amount)
    lines_total: Decimal
    statements_total: Decimal

    @property
    def balanced(self) -> bool:
        return self.lines_total == self.statements_total


def _balance(request: HttpRequest, billing: BillingPeriod, statements: list[Statement]) -> Balance:
    # Every line amount is in the currency's minor unit, so their sums are too: quantizing
    # removes SQLite's float noise (its SUM over decimals is a REAL), and is exact otherwise.
    currency = request.org.currency
    by_kind = {
        kind: quantize(Decimal(total), currency)
        for kind, total in StatementLine.objects.filter(
            organization=request.org, statement__period=billing
        )
        .values_list("kind")
        .annotate(Sum("amount"))
        .order_by()
    }
    kinds = [
        (kind, label, by_kind.get(kind, ZERO))
        for kind, label in BALANCE_KINDS.items()
        if kind in ALWAYS_SHOWN or by_kind.get(kind)
    ]
    usage_cost = quantize(billing.usage_cost, currency)
    return Balance(
        usage_cost=usage_cost,
        rounding=by_kind.get("usage", ZERO) - usage_cost,
        kinds=kinds,
        lines_total=sum(by_kind.values(), ZERO),
        statements_total=sum((s.total for s in statements), ZERO),
    )


@org_permission("billing.close")
@require_GET
def period_detail(request: HttpRequest, org_slug: str, period_id: int) -> HttpResponse:
    billing = _period(request, period_id)
    month = _month(billing)
    cost, requests = month_totals(request.org, month)
    unallocated = DailyUsage.objects.filter(
        organization=request.org,
        day__gte=month.first,
        day__lte=month.last,
        attribution=CENTRAL,
    ).aggregate(cost=Sum("cost", default=ZERO))["cost"]
    statements = list(billing.statements.select_related("unit").order_by("sequence"))
    drafted = billing.draft_status == DraftStatus.DONE or billing.state != PeriodState.OPEN
    context = {
        "period": billing,
        "month_cost": cost,
        "month_requests": requests,
        "month_unallocated": unallocated,
        "quarantine": close.quarantine_warning(request.org, month),
        "statements": statements,
        "balance": _balance(request, billing, statements) if statements else None,
        "usage_changed": drafted and (cost, requests) != (billing.usage_cost, billing.requests),
        "stale": stale_reasons(request.org, billing, month, usage=False)
        if billing.state == PeriodState.OPEN and billing.draft_status == DraftStatus.DONE
        else [],
        "late_cost": cost - billing.usage_cost,
        "progress": period_state.progress(billing),
        "pdf_ready": sum(1 for s in statements if s.pdf_status == PdfStatus.DONE),
        "pdf_failed": sum(1 for s in statements if s.pdf_status == PdfStatus.FAILED),
        "today": org_today(request),
        "month_over": month.last < org_today(request),
        # closed before its dispute deadline: the window ended with the close
        "closed_early": billing.closed_at is not None
        and billing.dispute_deadline is not None
        and billing.closed_at.astimezone(request.org.tz).date() < billing.dispute_deadline,
        "month_next": month.last + dt.timedelta(days=1),
    }
    return render(request, "billing/period_detail.html", context)


@org_permission("billing.close")
@require_POST
def period_draft(request: HttpRequest, org_slug: str, period_id: int) -> HttpResponse:
    billing = _period(request, period_id)
    url = _close_url(request, billing)
    refusal = period_state.drafting_refusal(billing)
    if refusal:
        messages.error(request, refusal)
        return redirect(url)
    with transaction.atomic():
        claimed = period_state.claim_drafting(billing)
        if claimed:
            transaction.on_commit(partial(queue_drafts, billing.pk, request.user.pk))
    if not claimed:
        messages.info(request, "Draft statements are already being generated for this month.")
        return redirect(url)
    billing.refresh_from_db()
    if billing.draft_status == DraftStatus.DONE:
        count = billing.statements.count()
        messages.success(
            request,
            f"Generated {count} draft statement{'s' if count != 1 else ''} for {billing.title}. "
            "Review the totals, then issue.",
        )
    elif billing.draft_status == DraftStatus.FAILED:
        messages.error(request, f"The drafts could not be generated: {billing.draft_error}")
    else:
        messages.success(request, f"Generating the draft statements for {billing.title}…")
    return redirect(url + "#review")


@org_permission("billing.close")
@require_GET
def period_progress(request: HttpRequest, org_slug: str, period_id: int) -> HttpResponse:
    billing = _period(request, period_id)
    progress = period_state.progress(billing)
    if not request.htmx:
        return redirect(_close_url(request, billing))
    response = render(
        request,
        "billing/period_detail.html#progress",
        {"period": billing, "progress": progress},
    )
    if not progress["running"]:
        response["HX-Refresh"] = "true"  # the review section appears with the drafts
    return response


def _by_mode(billing: BillingPeriod) -> dict[str, dict]:
    rows = billing.statements.values("mode").annotate(count=Count("id"), total=Sum("total"))
    out = {m: {"label": label, "count": 0, "total": ZERO} for m, label in StatementMode.choices}
    for row in rows.order_by():
        out[row["mode"]].update(count=row["count"], total=row["total"])
    return out


@org_permission("billing.close")
@require_http_methods(["GET", "POST"])
def period_issue(request: HttpRequest, org_slug: str, period_id: int) -> HttpResponse:
    billing = _period(request, period_id)
    if request.method == "POST":
        try:
            billing = close.issue_statements(
                request.org, _month(billing), actor=request.user, queue_pdfs=queue_pdfs
            )
        except CloseError as exc:
            messages.error(request, str(exc))
        else:
            count = billing.statements.count()
            messages.success(
                request,
                f"Issued {plural(count, 'statement')} for {billing.title}. "
                f"Disputes are open until {billing.dispute_deadline:%A %-d %B %Y}.",
            )
            # With in-process tasks the PDFs were rendered just now; a failed one is marked
            # (queue_pdfs never raises) and rendered again on download.
            failed = billing.statements.filter(pdf_status=PdfStatus.FAILED).count()
            if failed:
                messages.warning(
                    request,
                    f"{plural(failed, 'PDF')} could not be rendered yet: each is rendered again "
                    "when downloaded, and downloading them all queues them again.",
                )
        return redirect(_close_url(request, billing))
    blocked = close.issue_blocker(request.org, billing, _month(billing), org_today(request))
    by_mode = _by_mode(billing)
    context = {
        "period": billing,
        "blocked": blocked,
        "by_mode": by_mode,
        "count": sum(m["count"] for m in by_mode.values()),
        "total": sum((m["total"] for m in by_mode.values()), ZERO),
        "deadline": request.org.dispute_deadline(org_today(request)),
    }
    return render(request, "billing/period_issue.html", context)


@org_permission("billing.close")
@require_http_methods(["GET", "POST"])
def period_close(request: HttpRequest, org_slug: str, period_id: int) -> HttpResponse:
    billing = _period(request, period_id)
    if request.method == "POST":
        try:
            billing = close.close_period(
                request.org,
                _month(billing),
                actor=request.user,
                override_reason=request.POST.get("override_reason", ""),
                today=org_today(request),
            )
        except CloseError as exc:
            messages.error(request, str(exc))
            return redirect("billing:period-close", org_slug=org_slug, period_id=billing.pk)
        count = billing.statements.count()
        messages.success(
            request,
            f"{billing.title} is closed: {count} statement{'s are' if count != 1 else ' is'} "
            "final."
            + (
                " The override and its reason are on every statement."
                if billing.close_override
                else ""
            ),
        )
        return redirect(_close_url(request, billing))
    blocked = period_state.close_refusal(billing, billing.label)
    by_mode = _by_mode(billing)
    today = org_today(request)
    context = {
        "period": billing,
        "blocked": blocked,
        "by_mode": by_mode,
        "count": sum(m["count"] for m in by_mode.values()),
        "total": sum((m["total"] for m in by_mode.values()), ZERO),
        "window_open": billing.dispute_deadline is not None and today <= billing.dispute_deadline,
        "gates": close_gates.refusals(request.org, billing, today) if not blocked else {},
    }
    return render(request, "billing/period_close.html", context)


INLINE_PDFS = 10  # at most this many missing PDFs are rendered while the zip is requested
PDF_QUEUE_PATIENCE = dt.timedelta(
    minutes=10
)  # after the issue, PDFs still waiting are queued again


@org_permission("billing.close")
@require_GET
def period_pdfs(request: HttpRequest, org_slug: str, period_id: int) -> HttpResponse:
    billing = _period(request, period_id)
    statements = list(
        billing.statements.select_related("unit", "period", "organization").order_by("sequence")
    )
    waiting = [s for s in statements if s.pdf_status != PdfStatus.DONE]
    if len(waiting) > INLINE_PDFS:
        # Rendering them here would outlast the request: the workers render them (failed ones,
        # and queued ones that waited too long, are queued again) and the page counts them.
        waited_long = billing.issued_at <= timezone.now() - PDF_QUEUE_PATIENCE
        again = [s.pk for s in waiting if waited_long or s.pdf_status == PdfStatus.FAILED]
        queued = queue_pdfs(request.org, again)
        messages.info(
            request,
            f"{len(statements) - len(waiting)} of {len(statements)} PDFs are ready; the workers "
            f"are rendering the other {len(waiting)}"
            + (f" ({queued} of them queued again)" if queued else "")
            + ". Download them all once the page shows every PDF ready.",
        )
        return redirect(_close_url(request, billing))
    buffer, missing = io.BytesIO(), []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for statement in statements:
            data = pdf_bytes(statement)
            if data is None:
                missing.append(statement.number)
            else:
                archive.writestr(f"{statement.number}.pdf", data)
        if missing:
            archive.writestr(
                "MISSING.txt",
                "These statements could not be rendered; download them one by one later:\n"
                + "\n".join(missing)
                + "\n",
            )
    name = f"{request.org.slug}-{billing.label}-statements.zip"
    return attachment(buffer.getvalue(), "application/zip", name)


@org_permission("billing.close")
@require_GET
def period_csv(request: HttpRequest, org_slug: str, period_id: int) -> HttpResponse:
    billing = _period(request, period_id)
    statements = (
        billing.statements.select_related("unit", "period")
        .prefetch_related("lines")
        .order_by("sequence")
    )
    name = f"{request.org.slug}-{billing.label}-lines.csv"
    return attachment(documents.lines_csv(statements), "text/csv; charset=utf-8", name)
