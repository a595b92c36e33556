"""Dashboard fixtures: rollup rows written directly (the figures' arithmetic is the subject),
and real usage through the ingestion pipeline where the events matter."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django_scopes import scopes_disabled

from chargeback.usage.models import DailyUsage
from chargeback.usage.rollup import write_rollup
from tests.usage.conftest import event, ingest, priced_org  # noqa: F401

TODAY = dt.date(2026, 10, 20)
NOW = dt.datetime(2026, 10, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


def rollup(org, unit, day, *, cost, requests=10, service="svc", provider="openai",
           model="gpt-4o-mini", environment="production", attribution="gateway_key",
           errors=0, error_cost="0", input_tokens=1000, output_tokens=200, cached=0):  # fmt: skip
    """A rollup row, written as ingestion writes it (DailyUsage and MonthlyUsage together)."""
    dims = (org.pk, day, unit.pk, service, provider, model, environment, attribution)
    sums = [
        requests,
        errors,
        input_tokens,
        output_tokens,
        cached,
        Decimal(cost),
        Decimal(error_cost),
        0,
    ]
    with scopes_disabled():
        write_rollup({dims: sums})
        return DailyUsage.objects.get(
            organization=org, day=day, unit=unit, service=service, provider=provider,
            model=model, environment=environment, attribution=attribution,
        )  # fmt: skip
