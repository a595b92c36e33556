"""Pure pricing: token classes x per-1M-token rates -> a Decimal cost. No ORM, no request.

Token classes never overlap (DESIGN.md 6.1): `input_tokens` is all input, of which
`cached_input_tokens` (cache reads) and `cache_write_input_tokens` are parts; reasoning tokens
are a part of `output_tokens`. So

    cost = (input - cached - cache_write) x input
         + cached x cached_input + cache_write x cache_write + output x output
         + per_request

with batch prices replacing the input and output rates for batch traffic. A class with tokens
but no rate of its own falls back to the plain input rate (cache reads and writes) or to the
standard rate (batch): it is never priced at zero. A model with no input or output rate cannot
be priced at all (`NoPrice`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

MILLION = Decimal(1_000_000)
COST_PLACES = Decimal("1e-12")


class NoPrice(ValueError):
    """The model has no usable price."""


@dataclass(frozen=True)
class Rates:
    """Prices per 1M tokens (and per request) in the price's currency; None means no such price."""

    input: Decimal | None
    output: Decimal | None
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    batch_input: Decimal | None = None
    batch_output: Decimal | None = None
    per_request: Decimal | None = None


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    batch: bool = False


def cost(usage: Usage, rates: Rates) -> Decimal:
    """The cost of one request, exact to 12 decimal places."""
    if rates.input is None or rates.output is None:
        raise NoPrice("no input or output price")
    if usage.cached_input_tokens + usage.cache_write_input_tokens > usage.input_tokens:
        raise ValueError("cached and cache-write tokens are parts of input_tokens and exceed it")
    input_rate = rates.input
    output_rate = rates.output
    if usage.batch:
        input_rate = rates.batch_input if rates.batch_input is not None else input_rate
        output_rate = rates.batch_output if rates.batch_output is not None else output_rate
    cached_rate = rates.cached_input if rates.cached_input is not None else rates.input
    write_rate = rates.cache_write if rates.cache_write is not None else rates.input
    plain_input = usage.input_tokens - usage.cached_input_tokens - usage.cache_write_input_tokens
    token_cost = (
        Decimal(plain_input) * input_rate
        + Decimal(usage.cached_input_tokens) * cached_rate
        + Decimal(usage.cache_write_input_tokens) * write_rate
        + Decimal(usage.output_tokens) * output_rate
    ) / MILLION
    total = token_cost + (rates.per_request or Decimal(0))
    return total.quantize(COST_PLACES)
