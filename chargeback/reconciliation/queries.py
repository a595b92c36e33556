"""The reconciliation's inputs read from the organisation's rows: the month's priced events
split by token class, its quarantined records with an unpriced model, its invoices and its
statements."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from chargeback.billing.models import BillingPeriod, Statement, StatementStatus
from chargeback.calendar import Period, end_of_day, start_of_day
from chargeback.pricing.models import ModelPrice
from chargeback.reconciliation.engine import Billed, Metered, Quarantined, Reconciliation, reconcile
from chargeback.reconciliation.models import InvoiceLine
from chargeback.tenancy.models import Organization
from chargeback.usage.models import QuarantinedEvent, QuarantineStatus, UsageEvent

ZERO = Decimal(0)
MILLION = Decimal(1_000_000)


def period_cutoff(organization: Organization, period: Period) -> dt.datetime | None:
    """When the month's statements were issued (events arriving later are late), or None."""
    return (
        BillingPeriod.objects.filter(organization=organization, month=period.first)
        .values_list("issued_at", flat=True)
        .first()
    )


def _rates(price_ids: set[int]) -> dict[int, ModelPrice]:
    return {p.pk: p for p in ModelPrice.objects.filter(pk__in=price_ids)}


def metered_inputs(organization: Organization, period: Period) -> list[Metered]:
    """The month's events (in the organisation's timezone), per provider, model, day and token
    class; each group's class amounts sum exactly to its events' cost."""
    tz = organization.tz
    cutoff = period_cutoff(organization, period)
    events = UsageEvent.objects.filter(
        organization=organization,
        occurred_at__gte=start_of_day(period.first, tz),
        occurred_at__lt=end_of_day(period.last, tz),
    )
    late = Q(ingested_at__gt=cutoff) if cutoff else Q(pk__in=[])
    groups = list(
        events.annotate(day=TruncDate("occurred_at", tzinfo=tz))
        .values("provider", "model", "day", "batch", "is_error", "price_id")
        .annotate(
            requests=Count("id"),
            input=Sum("input_tokens"),
            cached=Sum("cached_input_tokens"),
            written=Sum("cache_write_input_tokens"),
            output=Sum("output_tokens"),
            cost=Sum("cost"),
            late_requests=Count("id", filter=late),
        )
        .order_by()
    )
    if cutoff:  # late events in a group of their own
        groups = _split_late(events, groups, late, tz)
    prices = _rates({g["price_id"] for g in groups})
    out = []
    for g in groups:
        out.extend(_classes(g, prices.get(g["price_id"])))
    return out


def _split_late(events, groups, late, tz) -> list[dict]:
    if not any(g["late_requests"] for g in groups):
        return groups
    fields = ("provider", "model", "day", "batch", "is_error", "price_id")
    sums = {
        "requests": Count("id"), "input": Sum("input_tokens"), "cached": Sum("cached_input_tokens"),
        "written": Sum("cache_write_input_tokens"), "output": Sum("output_tokens"),
        "cost": Sum("cost"),
    }  # fmt: skip
    by_day = events.annotate(day=TruncDate("occurred_at", tzinfo=tz))
    on_time = by_day.exclude(late).values(*fields).annotate(**sums).order_by()
    arrived_late = by_day.filter(late).values(*fields).annotate(**sums).order_by()
    return [{**g, "late": False} for g in on_time] + [{**g, "late": True} for g in arrived_late]


def _classes(g: dict, price: ModelPrice | None) -> list[Metered]:
    """One group's token classes priced with its price (the fallbacks of pricing.prices.cost);
    the rounding rest of the per-event costs goes to its output class."""
    cached, written = g["cached"] or 0, g["written"] or 0
    plain = (g["input"] or 0) - cached - written
    output = g["output"] or 0
    batch = g["batch"]

    def rate(name: str, fallback: str = "input_per_1m") -> Decimal:
        if price is None:
            return ZERO
        value = getattr(price, name)
        return value if value is not None else (getattr(price, fallback) or ZERO)

    in_rate = rate("batch_input_per_1m") if batch else rate("input_per_1m")
    parts = {
        "batch_input" if batch else "input": (plain, plain * in_rate / MILLION),
        "cached_input": (cached, cached * rate("cached_input_per_1m") / MILLION),
        "cache_write": (written, written * rate("cache_write_per_1m") / MILLION),
        "request": (
            g["requests"],
            g["requests"] * ((price.per_request or ZERO) if price else ZERO),
        ),
    }
    out_class = "batch_output" if batch else "output"
    rest = (g["cost"] or ZERO) - sum((a for _, a in parts.values()), ZERO)
    parts[out_class] = (output, rest)
    return [
        Metered(
            provider=g["provider"],
            model=g["model"],
            day=g["day"],
            token_class=name,
            quantity=Decimal(qty),
            amount=amount,
            late=g.get("late", False),
            error=g["is_error"],
        )
        for name, (qty, amount) in parts.items()
        if qty or amount
    ]


def billed_inputs(organization: Organization, period: Period) -> list[Billed]:
    lines = InvoiceLine.objects.filter(organization=organization, invoice__month=period.first)
    return [
        Billed(
            provider=line.provider,
            model=line.model,
            token_class=line.token_class,
            quantity=line.quantity,
            amount=line.amount,
            day=line.day,
        )
        for line in lines.order_by("invoice_id", "position")
    ]


def quarantined_records(organization: Organization, period: Period, *, all_reasons=False):
    """The month's open quarantined records whose model has no price (or, with `all_reasons`,
    every open one): (row, record dict, day)."""
    rows = QuarantinedEvent.objects.filter(organization=organization, status=QuarantineStatus.OPEN)
    if not all_reasons:
        rows = rows.filter(reason="no_price")
    tz = organization.tz
    for row in rows.order_by("pk").iterator(chunk_size=2000):
        try:
            record = json.loads(row.raw)
            when = dt.datetime.fromisoformat(str(record["occurred_at"]).replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError):
            continue
        if not isinstance(record, dict):
            continue
        day = (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).astimezone(tz).date()
        if period.first <= day <= period.last:
            yield row, record, day


def _tokens(record: dict, name: str) -> int:
    try:
        return max(int(record.get(name) or 0), 0)
    except (TypeError, ValueError):
        return 0


def quarantined_inputs(organization: Organization, period: Period) -> list[Quarantined]:
    out = []
    for _row, record, day in quarantined_records(organization, period):
        provider = str(record.get("provider") or "").strip().lower()
        model = str(record.get("model") or "")
        cached = _tokens(record, "cached_input_tokens")
        written = _tokens(record, "cache_write_input_tokens")
        batch = record.get("batch") is True
        counts = {
            "batch_input" if batch else "input": _tokens(record, "input_tokens") - cached - written,
            "cached_input": cached,
            "cache_write": written,
            "batch_output" if batch else "output": _tokens(record, "output_tokens"),
        }
        out.extend(
            Quarantined(provider, model, day, name, Decimal(qty))
            for name, qty in counts.items()
            if qty > 0
        )
    return out


def allocated_cost(organization: Organization, period: Period) -> Decimal | None:
    """The usage cost on the month's issued (or final) statements; None before they are."""
    statements = Statement.objects.filter(
        organization=organization, period__month=period.first
    ).exclude(status=StatementStatus.DRAFT)
    if not statements.exists():
        return None
    return statements.aggregate(total=Sum("usage_cost"))["total"] or ZERO


def reconciliation_of(organization: Organization, period: Period) -> Reconciliation:
    return reconcile(
        currency=organization.currency,
        metered=metered_inputs(organization, period),
        billed=billed_inputs(organization, period),
        quarantined=quarantined_inputs(organization, period),
        allocated=allocated_cost(organization, period),
    )
