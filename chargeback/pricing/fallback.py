"""Prices found by a stated fallback when the record's own provider has none.

An Azure OpenAI deployment runs an OpenAI model at OpenAI's list prices (Azure's global
deployments are priced as OpenAI's), so a record from `azure` whose model has no Azure price in
the organisation's book is priced at the OpenAI price of the same model, and the event records
how (`METHODS`). An organisation that has its own Azure price for the model is priced at that:
the fallback is only ever a second look."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from chargeback.pricing.index import PricePoint

# provider without a price -> the provider whose price of the same model stands in for it
FALLBACKS = {"azure": "openai"}
METHODS = {"azure": "openai price (azure deployment)"}

Find = Callable[[str, str, dt.datetime], PricePoint | None]


def find_price(
    find: Find, provider: str, model: str, at: dt.datetime
) -> tuple[PricePoint | None, str]:
    """(price point, method): the method is "" for the provider's own price, the fallback's
    wording when another provider's price stands in, and the point None when neither has one."""
    point = find(provider, model, at)
    if point is not None or provider not in FALLBACKS:
        return point, ""
    point = find(FALLBACKS[provider], model, at)
    return point, (METHODS[provider] if point is not None else "")
