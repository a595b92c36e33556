"""What a request will cost, priced before it is sent: the price in force now for the
provider's model (its aliases and normalisation as ingestion applies them) x the request's
input tokens and its maximum output tokens. Bad input is a ValidationError naming the field."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError

from chargeback.pricing.aliases import normalise, normalise_provider
from chargeback.pricing.models import ModelAlias, ModelPrice
from chargeback.pricing.prices import NoPrice, Rates, Usage, cost
from chargeback.tenancy.models import Organization


@dataclass(frozen=True)
class Priced:
    provider: str
    model: str
    input_per_1m: Decimal
    cost: Decimal | None  # None when only the model was named (the caller gave the cost)


# (organisation, price book fingerprint, provider, model as sent) -> (canonical provider,
# canonical model, the model's prices, newest first). A new price version or alias changes the
# fingerprint, so a stale entry is never read; the oldest entries go when it is full.
_PRICES: dict[tuple, tuple[str, str, list[ModelPrice]]] = {}
_PRICES_KEPT = 2000


def price_in_force(
    organization: Organization,
    provider: str,
    model: str,
    at: dt.datetime,
    fingerprint: tuple | None = None,
) -> tuple[str, str, ModelPrice | None]:
    """(canonical provider, canonical model, the price in force at `at` or None). With the
    price book's `fingerprint` (see chargeback.gateway.lookup), the look-up is remembered."""
    memo = (organization.pk, fingerprint, provider, model)
    found = _PRICES.get(memo) if fingerprint is not None else None
    if found is None:
        found = _prices(organization, provider, model)
        if fingerprint is not None:
            if len(_PRICES) >= _PRICES_KEPT:
                del _PRICES[next(iter(_PRICES))]
            _PRICES[memo] = found
    p, m, prices = found
    return p, m, next((price for price in prices if price.effective_from <= at), None)


def _prices(organization: Organization, provider: str, model: str) -> tuple:
    raw = model.strip().lower()
    aliases = {
        (a.provider, a.raw): (a.canonical_provider, a.canonical_model)
        for a in ModelAlias.objects.filter(organization=organization, raw=raw)
    }
    p, m = normalise(normalise_provider(provider), model, aliases)
    prices = ModelPrice.objects.filter(organization=organization, provider=p, model=m).order_by(
        "-effective_from", "-version__number"
    )
    return p, m, list(prices)


def price_request(
    organization: Organization,
    *,
    provider: str,
    model: str,
    input_tokens: int | None,
    max_output_tokens: int | None,
    at: dt.datetime,
    fingerprint: tuple | None = None,
) -> Priced:
    """The model's price in force and, when token counts are given, the request's cost."""
    p, m, price = price_in_force(organization, provider, model, at, fingerprint)
    if price is None:
        raise ValidationError({"model": f'no price in force for "{p}/{m}": send estimated_cost'})
    if price.currency != organization.currency:
        raise ValidationError(
            {"model": f'"{p}/{m}" is priced in {price.currency}, the wallets in '
             f"{organization.currency}: send estimated_cost"}
        )  # fmt: skip
    amount = None
    if input_tokens is not None and max_output_tokens is not None:
        rates = Rates(input=price.input_per_1m, output=price.output_per_1m,
                      per_request=price.per_request)  # fmt: skip
        try:
            amount = cost(Usage(input_tokens=input_tokens, output_tokens=max_output_tokens), rates)
        except NoPrice:
            raise ValidationError({"model": f'"{p}/{m}" has no input or output price'}) from None
    return Priced(provider=p, model=m, input_per_1m=price.input_per_1m, cost=amount)
