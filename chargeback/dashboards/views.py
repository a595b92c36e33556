"""Showback pages: the organisation's overview and a unit's spend page. Both read the
DailyUsage rollup through `showback.build`; `?csv=<chart>` downloads a chart's table. Changing
the period, a filter, the sort or the stacking swaps the page body over htmx; the same URL
loaded in full gives the same page."""

from __future__ import annotations

import datetime as dt

from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers

from chargeback.billing.queries import visible_statements
from chargeback.dashboards import charge_reads, event_export, export_views, queries, showback
from chargeback.dashboards.csv_export import FORMATS, people_rows
from chargeback.dashboards.periods import Window
from chargeback.safecsv import download as csv_download
from chargeback.tenancy.permissions import org_permission

EVENTS_PER_PAGE = 25
# the business-unit table's columns: (sort key or "", label, numeric)
UNIT_COLUMNS = [
    ("name", "Unit", False),
    ("", "Billing mode", False),
    ("spend", "Spend", True),
    ("share", "Share", True),
    ("", "Prior period", True),
    ("change", "Change", True),
    ("tokens", "Tokens", True),
    ("requests", "Requests", True),
    ("", "Coverage", True),
]
CHEAPER_NOTE = (
    "Each model's requests and tokens priced at the cheapest model of the same provider in the "
    "current price book (cache writes count as input). An upper bound on what switching models "
    "could save, not a judgement of quality."
)


@org_permission("org.view")
def overview(request: HttpRequest, org_slug: str) -> HttpResponse:
    sort = request.GET.get("sort", "-spend")
    board = showback.build(membership=request.membership, params=request.GET, sort=sort)
    if download := _download(request, board, "overview"):
        return download
    led = list(request.membership.units.order_by("name")) if board.unit_ids is not None else []
    central = next(
        (u for u in board.units.values() if u.is_central and not u.archived),
        None,
    )
    if central is not None and board.reach is not None and central.id not in board.reach:
        central = None  # a team lead who does not lead the central bucket
    context = {
        "board": board,
        "sort": sort,
        "led_units": led,
        "unit_columns": UNIT_COLUMNS,
        "central": central,
        "charged": _charged(request, board),
    }
    return _render(request, "dashboards/overview.html", context)


@org_permission("org.view")
def unit_spend(request: HttpRequest, org_slug: str, unit_id: int) -> HttpResponse:
    sort = request.GET.get("sort", "-spend")
    try:
        board = showback.build(
            membership=request.membership, params=request.GET, root_id=unit_id, sort=sort
        )
    except showback.OutOfReach:
        raise Http404("No such unit.") from None
    unit = board.units[unit_id]
    if download := _download(request, board, unit.code):
        return download
    first, last = _event_days(request, board.window)
    events = queries.events(
        request.org, unit_ids=board.unit_ids, filters=board.filters, first=first, last=last
    )
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "board": board,
        "sort": sort,
        "unit": unit,
        "parent": board.units.get(unit.parent_id)
        if board.reach is None or unit.parent_id in board.reach
        else None,
        "unit_columns": UNIT_COLUMNS,
        "cheaper_note": CHEAPER_NOTE,
        "events": page,
        "statements": visible_statements(request.org, request.membership)
        .filter(unit_id__in=sorted(board.unit_ids or ()))
        .select_related("unit", "period")
        .order_by("-period__month", "sequence")[:8],
        "event_day": first if first == last and request.GET.get("day") else None,
        "charged": _charged(request, board),
    }
    return _render(request, "dashboards/unit_spend.html", context)


def _charged(request: HttpRequest, board: showback.Showback) -> list:
    """Usage beside the charge, per month of the window."""
    return charge_reads.charged_months(
        request.org,
        first=board.window.first,
        last=board.window.last,
        reach=board.reach,
        unit_ids=board.unit_ids,
        names={u.id: u.name for u in board.units.values()},
    )


def _render(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    """The whole page, or for htmx (the period and filter form, sort and stack links, which
    target #showback) only its body partial. A history restore gets the whole page."""
    context.setdefault("export_formats", event_export.LINKS)
    htmx = request.htmx
    partial = bool(htmx) and htmx.target == "showback" and not htmx.history_restore_request
    response = render(
        request, f"{template}#body" if partial else template, context | {"partial": partial}
    )
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def _download(request: HttpRequest, board: showback.Showback, name: str) -> HttpResponse | None:
    key = request.GET.get("csv")
    if not key:
        return None
    table = showback.unit_table_csv(board.unit_rows) if key == "units" else board.chart(key)
    if table is None:
        raise Http404("No such table.")
    fmt = request.GET.get("format", "rounded")
    if fmt not in FORMATS:
        return HttpResponseBadRequest(
            f'format: "{fmt[:20]}" is not one of rounded (for people, the default) or exact',
            content_type="text/plain; charset=utf-8",
        )
    window = f"{board.window.first}-{board.window.last}"
    suffix = "-exact" if fmt == "exact" else ""
    filename = f"{request.org.slug}-{name}-{key}-{window}{suffix}.csv"
    rows = table.csv_rows() if fmt == "exact" else people_rows(table, request.org.currency)
    return csv_download(rows, filename)


def _event_days(request: HttpRequest, window: Window) -> tuple[dt.date, dt.date]:
    """The event list covers the window, or one day of it (`?day=YYYY-MM-DD`, from a chart)."""
    try:
        day = dt.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        return window.first, window.last
    if window.first <= day <= window.last:
        return day, day
    return window.first, window.last


@org_permission("org.view")
def events_export(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The events (or FOCUS rows) in the dashboard's window and unit, streamed as a download."""
    try:
        export = event_export.parse_export(request.membership, request.GET)
    except event_export.ExportRequestError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    except event_export.OutOfReach:
        raise Http404("No such unit.") from None
    if export_views.too_large(export):  # prepared by a worker, with a progress bar
        prepare = reverse("dashboards:events-export-prepare", kwargs={"org_slug": org_slug})
        return redirect(f"{prepare}?{request.GET.urlencode()}")
    response = StreamingHttpResponse(export.lines(), content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response
