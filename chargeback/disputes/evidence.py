"""The evidence behind a dispute: for its lines (all the statement's usage when it targets the
whole statement or lines that are not usage), from the unit's usage events of the month in the
organisation's timezone:

- cost and requests, the top services, workflows and provider/models by cost;
- the most expensive request ids, and the request ids the dispute names, found or not (in the
  unit's events only: another unit's requests are not shown to its team lead);
- retry storms: retried requests (`attempt` > 1 or `retry_of` set, as the gateway reports
  them) of one service, workflow and model, at least STORM_MIN in one hour;
- unallocated spend: the part attributed to the unit only as the central bucket's fallback
  (no tag, key, account, service or rule named an owner).

All sums are Decimal, from SQL aggregates; nothing here writes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce
from operator import or_

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncHour

from chargeback.billing.models import Statement, StatementLine
from chargeback.calendar import Period, end_of_day, start_of_day
from chargeback.disputes.models import Dispute
from chargeback.units.attribution import CENTRAL
from chargeback.usage.models import UsageEvent

ZERO = Decimal(0)
TOP = 5
TOP_REQUESTS = 10
NAMED_MAX = 50
STORM_MIN = 20  # retried requests in one hour of one service, workflow and model


@dataclass(frozen=True)
class Storm:
    hour: dt.datetime  # the hour it started, in the organisation's timezone
    service: str
    workflow: str
    model: str  # provider/model
    retries: int
    failed: int
    cost: Decimal


@dataclass(frozen=True)
class Evidence:
    scope: str  # what the figures cover, in words
    cost: Decimal = ZERO
    requests: int = 0
    services: list[tuple[str, Decimal]] = field(default_factory=list)
    workflows: list[tuple[str, Decimal]] = field(default_factory=list)
    models: list[tuple[str, Decimal]] = field(default_factory=list)
    top_requests: list[tuple[str, Decimal]] = field(default_factory=list)
    named: list[tuple[str, Decimal | None]] = field(default_factory=list)  # None: not found
    retries: int = 0
    retry_cost: Decimal = ZERO
    storms: list[Storm] = field(default_factory=list)
    unallocated: Decimal = ZERO
    unallocated_requests: int = 0
    storm_min: int = STORM_MIN


def line_events(statement: Statement, lines: list[StatementLine]) -> tuple[QuerySet, str]:
    """The events behind `lines` of `statement` (all its usage when none is a usage line)."""
    org = statement.organization
    month = Period.of(statement.period.month)
    qs = UsageEvent.objects.filter(
        organization=org,
        unit_id=statement.unit_id,
        occurred_at__gte=start_of_day(month.first, org.tz),
        occurred_at__lt=end_of_day(month.last, org.tz),
    )
    pairs = sorted({x.provider_model for x in lines if x.provider_model})
    if not pairs:
        return qs, f"all of {statement.unit_code or statement.unit.code}'s usage in {month.title}"
    qs = qs.filter(reduce(or_, (Q(provider=p, model=m) for p, m in pairs)))
    return qs, ", ".join(f"{p}/{m}" for p, m in pairs) + f" in {month.title}"


def _top(qs: QuerySet, column: str, empty: str) -> list[tuple[str, Decimal]]:
    rows = qs.values(column).annotate(c=Sum("cost")).order_by("-c", column)[:TOP]
    return [(r[column] or empty, Decimal(r["c"])) for r in rows]


def _models(qs: QuerySet) -> list[tuple[str, Decimal]]:
    rows = qs.values("provider", "model").annotate(c=Sum("cost"))
    rows = rows.order_by("-c", "provider", "model")[:TOP]
    return [(f"{r['provider']}/{r['model']}", Decimal(r["c"])) for r in rows]


def storms(qs: QuerySet, tz: dt.tzinfo) -> list[Storm]:
    retried = qs.filter(Q(attempt__gt=1) | ~Q(retry_of=""))
    rows = (
        retried.annotate(hour=TruncHour("occurred_at", tzinfo=tz))
        .values("hour", "service", "workflow", "provider", "model")
        .annotate(n=Count("id"), failed=Count("id", filter=Q(is_error=True)), c=Sum("cost"))
        .filter(n__gte=STORM_MIN)
        .order_by("hour", "service", "workflow", "provider", "model")
    )
    return [
        Storm(
            hour=r["hour"].astimezone(tz),
            service=r["service"] or "(no service)",
            workflow=r["workflow"] or "(no workflow)",
            model=f"{r['provider']}/{r['model']}",
            retries=r["n"],
            failed=r["failed"],
            cost=Decimal(r["c"]),
        )
        for r in rows
    ]


def evidence_for(dispute: Dispute) -> Evidence:
    statement = dispute.statement
    lines = [t.line for t in dispute.targets.select_related("line")]
    qs, scope = line_events(statement, lines)
    totals = qs.aggregate(n=Count("id"), c=Sum("cost", default=ZERO))
    retried = qs.filter(Q(attempt__gt=1) | ~Q(retry_of="")).aggregate(
        n=Count("id"), c=Sum("cost", default=ZERO)
    )
    central = qs.filter(attribution=CENTRAL).aggregate(n=Count("id"), c=Sum("cost", default=ZERO))
    top = qs.order_by("-cost", "request_id").values_list("request_id", "cost")[:TOP_REQUESTS]
    wanted = list(dict.fromkeys(dispute.request_ids))[:NAMED_MAX]
    found = dict(qs.filter(request_id__in=wanted).values_list("request_id", "cost"))
    return Evidence(
        scope=scope,
        cost=Decimal(totals["c"]),
        requests=totals["n"],
        services=_top(qs, "service", "(no service)"),
        workflows=_top(qs, "workflow", "(no workflow)"),
        models=_models(qs),
        top_requests=[(rid, Decimal(c)) for rid, c in top],
        named=[(rid, Decimal(found[rid]) if rid in found else None) for rid in wanted],
        retries=retried["n"],
        retry_cost=Decimal(retried["c"]),
        storms=storms(qs, statement.organization.tz),
        unallocated=Decimal(central["c"]),
        unallocated_requests=central["n"],
    )
