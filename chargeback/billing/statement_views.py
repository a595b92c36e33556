"""Statement pages, for everyone who may see statements (a team lead: its units' only; drafts
only for those who close the books): the list with its filters, a statement with its lines,
evidence and checksum, its PDF and CSV, and the drill-down from a line to the events behind
it."""

from __future__ import annotations

import datetime as dt
import logging
import re
from decimal import Decimal

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from chargeback.billing import display, dispute_story, documents, line_csv, pdf
from chargeback.billing.checksums import checksum
from chargeback.billing.forms import DEFAULT_SORT, SORTS, StatementFilterForm
from chargeback.billing.models import (
    PdfStatus,
    Statement,
    StatementLine,
    StatementMode,
    StatementStatus,
)
from chargeback.billing.queries import visible_statements
from chargeback.calendar import Period
from chargeback.tenancy.permissions import org_permission
from chargeback.units.queries import visible_units
from chargeback.usage.models import UsageEvent

logger = logging.getLogger(__name__)
PAGE_SIZE = 50
EVENTS_PER_PAGE = 50
ZERO = Decimal(0)


def org_today(request: HttpRequest) -> dt.date:
    """Today in the organisation's timezone."""
    return dt.datetime.now(request.org.tz).date()


def attachment(body: bytes | str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def pdf_bytes(statement: Statement) -> bytes | None:
    """The stored PDF, or one rendered now (also when the stored one, as issued, no longer
    tells the statement's dispute story as it is today); None (logged) if it cannot be had."""
    stored = statement.pdf_status == PdfStatus.DONE and statement.pdf.name
    if stored and dispute_story.pdf_is_current(statement):
        try:
            with statement.pdf.open("rb") as fh:
                return fh.read()
        except OSError:
            logger.warning("stored PDF of %s is missing; rendering it", statement.number)
    try:
        return pdf.render_pdf(statement)
    except Exception:
        logger.exception("rendering the PDF of %s failed", statement.number)
        return None


# Statements -------------------------------------------------------------------------------


def _statements(request: HttpRequest) -> QuerySet[Statement]:
    return visible_statements(request.org, request.membership)


def _statement(request: HttpRequest, statement_id: int) -> Statement:
    qs = _statements(request).select_related("unit", "period", "organization")
    return get_object_or_404(qs, pk=statement_id)


# (sort key, header, the direction a first click sorts by)
SORT_COLUMNS = (
    ("number", "Number", "-number"),
    ("unit", "Unit", "unit"),
    ("total", "Total", "-total"),
)


def _totals_by_month_and_mode(qs: QuerySet[Statement]) -> list[dict]:
    """The statements' totals per month and billing mode, newest month first: a sum across
    months or across showback and chargeback means nothing, so the list never shows one."""
    rows = (
        qs.order_by()
        .values("period__month", "mode")
        .annotate(count=Count("id"), total=Sum("total", default=ZERO))
        .order_by("-period__month", "mode")
    )
    labels = dict(StatementMode.choices)
    return [
        {
            "period": Period.of(r["period__month"]).title,
            "mode": r["mode"],
            "label": labels.get(r["mode"], r["mode"]),
            "count": r["count"],
            "total": r["total"],
        }
        for r in rows
    ]


def _next_sort(key: str, first: str, current: str) -> str:
    """A header's link: the other direction when its column is the current sort."""
    if current.lstrip("-") != key:
        return first
    return key if current.startswith("-") else f"-{key}"


@org_permission("statements.view")
@require_GET
def statement_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    base = _statements(request)
    months = sorted(set(base.values_list("period__month", flat=True).order_by()), reverse=True)
    units = visible_units(request.membership).order_by("code")
    drafts = request.membership.has_perm("billing.close")
    form = StatementFilterForm(
        request.GET,
        months=months,
        units=units,
        statuses=None if drafts else (StatementStatus.ISSUED, StatementStatus.FINAL),
    )
    filters = form.values()
    qs = base.select_related("unit", "period")
    if filters["period"]:
        qs = qs.filter(period__month=Period.parse(filters["period"]).first)
    for name in ("mode", "status"):
        if filters[name]:
            qs = qs.filter(**{name: filters[name]})
    if filters["unit"]:
        qs = qs.filter(unit_id=int(filters["unit"]))
    sort = filters["sort"] or DEFAULT_SORT
    summary = {"count": qs.count(), "groups": _totals_by_month_and_mode(qs)}
    page = Paginator(qs.order_by(*SORTS[sort]), PAGE_SIZE).get_page(request.GET.get("page"))
    columns = [
        (key, label, _next_sort(key, first, sort), sort.lstrip("-") == key, sort.startswith("-"))
        for key, label, first in SORT_COLUMNS
    ]
    context = {
        "form": form,
        "filters": {k: v for k, v in filters.items() if v},
        "active": any(filters[k] for k in ("period", "mode", "status", "unit")),
        "page": page,
        "summary": summary,
        "sort": sort,
        "columns": columns,
        "today": org_today(request),
    }
    return render(request, "billing/statement_list.html", context)


def _display(line: StatementLine, currency: str) -> None:
    line.quantity_text = display.quantity_text(line.kind, line.quantity, line.unit_price, currency)
    line.unit_price_text = display.unit_price_text(line.kind, line.quantity, line.unit_price)


def _evidence(data: dict) -> dict:
    """The stored evidence (JSON, amounts as strings) with its amounts as Decimals."""

    def num(value: object) -> Decimal | None:
        return None if value in (None, "") else Decimal(str(value))

    pairs = ("services", "models", "cost_per_outcome")
    out = {key: [(name, num(cost)) for name, cost in data.get(key) or []] for key in pairs}
    for key in ("cost", "prior_cost", "change", "change_pct", "coverage"):
        out[key] = num(data.get(key))
    out["driver"] = data.get("driver") or ""
    return out


@org_permission("statements.view")
@require_GET
def statement_detail(request: HttpRequest, org_slug: str, statement_id: int) -> HttpResponse:
    statement = _statement(request, statement_id)
    lines = list(statement.lines.all())
    for line in lines:
        _display(line, statement.currency)
    line_sum = sum((line.amount for line in lines), ZERO)
    context = {
        "statement": statement,
        "lines": lines,
        "line_sum": line_sum,
        "sums_exactly": line_sum == statement.total,
        "evidence": _evidence(statement.evidence or {}),
        "verified": checksum(statement, lines) == statement.checksum,
        "today": org_today(request),
        "story": dispute_story.story(statement, org_today(request)),
    }
    return render(request, "billing/statement_detail.html", context)


@org_permission("statements.view")
@require_GET
def statement_pdf(request: HttpRequest, org_slug: str, statement_id: int) -> HttpResponse:
    statement = _statement(request, statement_id)
    data = pdf_bytes(statement)
    if data is None:
        messages.error(
            request,
            "The PDF could not be rendered just now. Try again in a minute; the error is logged.",
        )
        return redirect("billing:statement-detail", org_slug=org_slug, statement_id=statement.pk)
    return attachment(data, "application/pdf", f"{statement.number}.pdf")


@org_permission("statements.view")
@require_GET
def statement_csv(request: HttpRequest, org_slug: str, statement_id: int) -> HttpResponse:
    statement = _statement(request, statement_id)
    body = documents.lines_csv([statement])
    return attachment(body, "text/csv; charset=utf-8", f"{statement.number}.csv")


# Drill-down -------------------------------------------------------------------------------

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
CURSOR = re.compile(r"[0-9]{1,17}\.[0-9]{1,18}")  # ASCII digits only: str.isdigit takes "²"


def _cursor(text: str) -> tuple[dt.datetime, int] | None:
    """`?after=<microseconds since epoch>.<event id>`: the last row of the previous page."""
    if not CURSOR.fullmatch(text):
        return None
    micros, _, pk = text.partition(".")
    try:
        return EPOCH + dt.timedelta(microseconds=int(micros)), int(pk)
    except OverflowError:
        return None


def _cursor_text(event: UsageEvent) -> str:
    return f"{(event.occurred_at - EPOCH) // dt.timedelta(microseconds=1)}.{event.pk}"


def _events(request: HttpRequest, statement: Statement, provider: str, model: str) -> dict:
    """The events behind a usage line, newest first, a keyset page at a time."""
    qs = _line_qs(request, statement, provider, model)
    summary = qs.aggregate(
        requests=Count("id"),
        errors=Count("id", filter=Q(is_error=True)),
        input_tokens=Sum("input_tokens", default=0),
        output_tokens=Sum("output_tokens", default=0),
        cost=Sum("cost", default=ZERO),
    )
    cursor = _cursor(request.GET.get("after", ""))
    page = qs
    if cursor:
        at, pk = cursor
        page = qs.filter(Q(occurred_at__lt=at) | Q(occurred_at=at, pk__lt=pk))
    rows = list(
        page.select_related("price__version").order_by("-occurred_at", "-pk")[: EVENTS_PER_PAGE + 1]
    )
    more = len(rows) > EVENTS_PER_PAGE
    rows = rows[:EVENTS_PER_PAGE]
    return {
        "events": rows,
        "summary": summary,
        "next_after": _cursor_text(rows[-1]) if more else "",
        "paged": cursor is not None,
    }


def _line_qs(
    request: HttpRequest, statement: Statement, provider: str, model: str
) -> QuerySet[UsageEvent]:
    """The events behind a usage line: the unit, the provider/model and the month in the
    organisation's timezone (the (organization, unit, occurred_at) index)."""
    month = Period.parse(statement.period.label)
    tz = request.org.tz
    return UsageEvent.objects.filter(
        organization=request.org,
        unit_id=statement.unit_id,
        occurred_at__gte=dt.datetime.combine(month.first, dt.time.min, tzinfo=tz),
        occurred_at__lt=dt.datetime.combine(
            month.last + dt.timedelta(days=1), dt.time.min, tzinfo=tz
        ),
        provider=provider,
        model=model,
    )


@org_permission("statements.view")
@require_GET
def line_events_csv(
    request: HttpRequest, org_slug: str, statement_id: int, line_id: int
) -> StreamingHttpResponse:
    """Every request behind a usage line as CSV (formula-safe), oldest first, streamed."""
    statement = _statement(request, statement_id)
    line = get_object_or_404(
        StatementLine, organization=request.org, statement=statement, pk=line_id
    )
    if not line.provider_model:
        raise Http404("Only a usage line has requests behind it.")
    events = _line_qs(request, statement, *line.provider_model)
    rows = line_csv.event_rows(events, statement.currency, request.org.tz)
    response = StreamingHttpResponse(
        line_csv.stream(rows, request.org), content_type="text/csv; charset=utf-8"
    )
    name = f"{statement.number}-line-{line.position}-requests.csv"
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


@org_permission("statements.view")
@require_GET
def line_events(
    request: HttpRequest, org_slug: str, statement_id: int, line_id: int
) -> HttpResponse:
    statement = _statement(request, statement_id)
    line = get_object_or_404(
        StatementLine, organization=request.org, statement=statement, pk=line_id
    )
    _display(line, statement.currency)
    context = {"statement": statement, "line": line, "events": None}
    if line.provider_model:
        context.update(_events(request, statement, *line.provider_model))
    return render(request, "billing/line_events.html", context)
