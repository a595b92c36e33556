"""What a cheaper model mix would have cost. Pure, from rollup sums and the current price book.

Method: for each (provider, model) the unit used in the period, take its requests and tokens
and price them at every model of the same provider in the current price book (the latest
price of each model that is in effect today) that has an input price and a non-zero output
price (a generation model: embedding models, priced on input only, are not alternatives); the
cheapest of those is the "cheaper mix" model. Its cost is

    (input - cached) x input rate + cached x cached-input rate (input rate if none)
    + output x output rate, all per 1M tokens, + requests x per-request fee.

The rollup does not keep cache-write tokens, so they are priced as plain input. The saving is
the actual cost minus that cost (never negative: a model already the cheapest saves nothing).
This is an upper bound on savings from switching models, not a quality judgement."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from chargeback.pricing.prices import MILLION, Rates

ZERO = Decimal(0)


@dataclass(frozen=True)
class Saving:
    provider: str
    model: str
    requests: int
    tokens: int
    actual: Decimal
    cheapest_model: str
    cheapest_cost: Decimal

    @property
    def saving(self) -> Decimal:
        return max(ZERO, self.actual - self.cheapest_cost)


def cost_at(
    rates: Rates, *, requests: int, input_tokens: int, output_tokens: int, cached: int
) -> Decimal:
    cached_rate = rates.cached_input if rates.cached_input is not None else rates.input
    tokens = (
        Decimal(input_tokens - cached) * rates.input
        + Decimal(cached) * cached_rate
        + Decimal(output_tokens) * rates.output
    ) / MILLION
    return tokens + Decimal(requests) * (rates.per_request or ZERO)


def cheaper_mix(rows: Iterable[Mapping], prices: Mapping[tuple[str, str], Rates]) -> list[Saving]:
    """`rows` carry provider, model, requests, input/output/cached_input tokens and cost
    (summed over the period); `prices` maps (provider, model) to current rates."""
    merged: dict[tuple[str, str], list] = {}
    for r in rows:
        acc = merged.setdefault((r["provider"], r["model"]), [0, 0, 0, 0, ZERO])
        acc[0] += r["requests"]
        acc[1] += r["input_tokens"]
        acc[2] += r["output_tokens"]
        acc[3] += r["cached_input_tokens"]
        acc[4] += Decimal(r["cost"])
    out = []
    for (provider, model), (requests, inp, outp, cached, actual) in merged.items():
        candidates = [
            (
                cost_at(
                    rates, requests=requests, input_tokens=inp, output_tokens=outp, cached=cached
                ),
                m,
            )
            for (p, m), rates in prices.items()
            if p == provider and rates.input is not None and rates.output
        ]
        if not candidates:
            best_cost, best_model = actual, model
        else:
            best_cost, best_model = min(candidates, key=lambda c: (c[0], c[1] != model, c[1]))
            if best_cost >= actual:
                best_cost, best_model = actual, model
        out.append(Saving(provider, model, requests, inp + outp, actual, best_model, best_cost))
    return sorted(out, key=lambda s: (-s.saving, -s.actual, s.provider, s.model))
