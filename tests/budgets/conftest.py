"""Budget fixtures: rollup rows written directly (the budget arithmetic is the subject)."""

from __future__ import annotations

import datetime as dt

import pytest
from django_scopes import scopes_disabled

from chargeback.budgets.models import Budget
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
