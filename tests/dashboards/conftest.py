"""Dashboard fixtures: rollup rows written directly (the figures' arithmetic is the subject),
and real usage through the ingestion pipeline where the events matter."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django_scopes import scopes_disabled

from chargeback.usage.models import DailyUsage
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
    with scopes_disabled():
        return DailyUsage.objects.create(
            organization=org,
            unit=unit,
            day=day,
            service=service,
            provider=provider,
            model=model,
            environment=environment,
            attribution=attribution,
            requests=requests,
            errors=errors,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_input_tokens=cached,
            cost=Decimal(cost),
            error_cost=Decimal(error_cost),
        )
