"""Re-pricing a past range: an explicit, audited operation. Events keep the cost and price
version that priced them at ingest (provenance); the run prices them again with the book in
force now and records the differences as adjustments, grouped by unit, month, provider and
model. Prices are found as ingestion finds them (`pricing.fallback.find_price`: an Azure
deployment without an Azure price at OpenAI's), and each event remembers its latest repriced
cost and how its price was found, so running again over the same range
adds only what changed since (never the same difference twice)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from chargeback.audit.log import record
from chargeback.pricing.books import price_index
from chargeback.pricing.fallback import find_price
from chargeback.pricing.models import PriceAdjustment, RepricingRun
from chargeback.pricing.prices import NoPrice, Usage, cost
from chargeback.tenancy.models import Organization
from chargeback.usage.models import UsageEvent

ZERO = Decimal(0)


@dataclass
class Group:
    events: int = 0
    old: Decimal = ZERO
    new: Decimal = ZERO


@dataclass
class RepricingPlan:
    first_day: dt.date
    last_day: dt.date
    examined: int = 0
    unpriced: int = 0
    groups: dict[tuple[int, str, str, str], Group] = field(default_factory=dict)
    changes: list[tuple[int, Decimal, int, str]] = field(
        default_factory=list
    )  # (event id, new cost, price id, price method)

    @property
    def changed(self) -> int:
        return len(self.changes)

    @property
    def total_delta(self) -> Decimal:
        return sum((g.new - g.old for g in self.groups.values()), ZERO)


def plan_repricing(
    organization: Organization, first_day: dt.date, last_day: dt.date
) -> RepricingPlan:
    """What a re-pricing of [first_day, last_day] (org timezone) would change; writes nothing."""
    if last_day < first_day:
        raise ValueError("the range ends before it starts")
    tz = organization.tz
    start = dt.datetime.combine(first_day, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    index = price_index(organization)
    plan = RepricingPlan(first_day, last_day)
    groups: dict[tuple[int, str, str, str], Group] = defaultdict(Group)
    events = (
        UsageEvent.objects.filter(
            organization=organization, occurred_at__gte=start, occurred_at__lt=end
        )
        .exclude(cache_hit=True)  # served from a gateway's cache: never charged
        .values_list(
            "id",
            "occurred_at",
            "provider",
            "model",
            "input_tokens",
            "output_tokens",
            "cached_input_tokens",
            "cache_write_input_tokens",
            "batch",
            "cost",
            "repriced_cost",
            "unit_id",
        )  # fmt: skip
        .order_by("id")
    )
    for (
        eid,
        at,
        provider,
        model,
        inp,
        out,
        cached,
        written,
        batch,
        old,
        repriced,
        unit_id,
    ) in events.iterator(chunk_size=5000):
        plan.examined += 1
        point, method = find_price(index.find, provider, model, at)  # as ingestion finds it
        if point is None or point.currency != organization.currency:
            plan.unpriced += 1
            continue
        try:
            new = cost(Usage(inp, out, cached, written, batch), point.rates)
        except NoPrice:
            plan.unpriced += 1
            continue
        current = repriced if repriced is not None else old
        if new == current:
            continue
        g = groups[(unit_id, f"{at.astimezone(tz):%Y-%m}", provider, model)]
        g.events += 1
        g.old += current
        g.new += new
        plan.changes.append((eid, new, point.price_id, method))
    plan.groups = dict(groups)
    return plan


def reprice_range(
    *, organization: Organization, first_day: dt.date, last_day: dt.date, note: str, actor: Any
) -> RepricingRun:
    note = note.strip()
    if len(note) < 5:
        raise ValueError("say why the range is re-priced (at least 5 characters)")
    with transaction.atomic():
        plan = plan_repricing(organization, first_day, last_day)
        run = RepricingRun.objects.create(
            organization=organization, first_day=first_day, last_day=last_day, note=note[:500],
            created_by=(getattr(actor, "email", "") or str(actor))[:254],
            events_examined=plan.examined, events_changed=plan.changed, total_delta=plan.total_delta,
        )  # fmt: skip
        PriceAdjustment.objects.bulk_create(
            PriceAdjustment(
                organization=organization,
                run=run,
                unit_id=unit_id,
                month=month,
                provider=provider,
                model=model,
                events=g.events,
                old_cost=g.old,
                new_cost=g.new,
                delta=g.new - g.old,
            )  # fmt: skip
            for (unit_id, month, provider, model), g in sorted(plan.groups.items())
        )
        for eid, new, price_id, method in plan.changes:
            UsageEvent.objects.filter(pk=eid).update(
                repriced_cost=new, repriced_price_id=price_id, repriced_price_method=method
            )
        record(
            organization=organization, actor=actor, action="pricing.repriced", obj=run,
            after={
                "first_day": first_day.isoformat(), "last_day": last_day.isoformat(), "note": run.note,
                "examined": plan.examined, "changed": plan.changed, "delta": str(plan.total_delta),
            },
        )  # fmt: skip
    return run
