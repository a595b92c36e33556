"""Budget fixtures: rollup rows written directly (the budget arithmetic is the subject)."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import connection
from django_scopes import scopes_disabled

from chargeback.budgets.models import Budget
from chargeback.usage.models import DailyUsage
from chargeback.usage.rollup import write_rollup
from tests.dashboards.conftest import rollup

TODAY = dt.date(2026, 10, 20)
NOW = dt.datetime(2026, 10, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


def daily_spend(org, unit, first: dt.date, last: dt.date, cost: str = "100", **kw):
    day = first
    while day <= last:
        rollup(org, unit, day, cost=cost, **kw)
        day += dt.timedelta(days=1)


def make_budget(org, unit, amount="1000", **kw):
    with scopes_disabled():
        return Budget.objects.create(
            organization=org, unit=unit, amount=amount, currency=org.currency, **kw
        )


@pytest.fixture
def spending(org_a, unit_tree, now):
    """SALES-DE spends 100 a day from 2026-09-01 to today (2026-10-20): 2,000 in October so
    far (today included), a forecast of 3,100 for the month."""
    daily_spend(org_a, unit_tree["de"], dt.date(2026, 9, 1), TODAY, "100")
    return unit_tree


def spread_usage(org, units, first: dt.date, last: dt.date, *, seed: int = 7) -> None:
    """Several rollup rows a day (services, models, environments, attributions) for some of
    `units`, from `first` to `last`: what the per-unit-day rollup sums. Costs exact on
    PostgreSQL (12 decimals) and multiples of 1/256 on SQLite (binary floats there), so no
    sum depends on its order."""
    rng = random.Random(seed)
    exact = connection.vendor == "postgresql"
    rows: dict[tuple, list] = {}
    day = first
    while day <= last:
        for _ in range(6):
            key = (org.pk, day, rng.choice(units).pk, rng.choice(["chat", "search", ""]),
                   "openai", rng.choice(["m1", "m2"]), rng.choice(["production", "staging"]),
                   rng.choice(["gateway_key", "central"]))  # fmt: skip
            cost = (
                Decimal(rng.randint(1, 10**14)).scaleb(-12)
                if exact
                else Decimal(rng.randint(1, 10**5)) / 256
            )
            rows[key] = [rng.randint(1, 90), 0, 100, 20, 0, cost, Decimal(0), 0]
        day += dt.timedelta(days=1)
    with scopes_disabled():
        write_rollup(rows)


def cost_per_day(org, unit_ids) -> dict[dt.date, Decimal]:
    """The units' cost per day, summed in Python from their DailyUsage rows."""
    out: dict[dt.date, Decimal] = defaultdict(Decimal)
    with scopes_disabled():
        for r in DailyUsage.objects.filter(organization=org, unit_id__in=unit_ids).values():
            out[r["day"]] += r["cost"]
    return dict(out)
