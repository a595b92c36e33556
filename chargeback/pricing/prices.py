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
from decimal import ROUND_HALF_EVEN, Decimal, getcontext

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


# The same cost in integers, for ingestion's hot path ----------------------------------------

LIMIT = 10**26  # integer pricing below this: Decimal's 28 digits hold every step of `cost` exactly


def integer_rates(rates: Rates) -> tuple[int, ...]:
    """(scale, input, output, cached input, cache write, batch input, batch output, fee): the
    rates as integers per token in units of 10^-scale (scale >= 12), the fallbacks of `cost`
    applied, and the fee, so that a cost is an exact integer sum (`pico_cost`); () when Decimal
    must do it (a missing rate, a negative or special value, or a context that does not round
    half-even at 28+ digits)."""
    context = getcontext()
    if rates.input is None or rates.output is None:
        return ()
    if context.rounding != ROUND_HALF_EVEN or context.prec < 28:
        return ()
    fee = rates.per_request or Decimal(0)
    per_token = [
        rates.input,
        rates.output,
        rates.cached_input if rates.cached_input is not None else rates.input,
        rates.cache_write if rates.cache_write is not None else rates.input,
        rates.batch_input if rates.batch_input is not None else rates.input,
        rates.batch_output if rates.batch_output is not None else rates.output,
    ]
    values = [*per_token, fee]
    if any(not v.is_finite() or v < 0 for v in values):
        return ()
    places = [-v.normalize().as_tuple().exponent for v in values]
    scale = max(12, *(n + 6 for n in places[:-1]), places[-1])
    ints = [int(v.scaleb(scale - 6)) for v in per_token]
    return (scale, *ints, int(fee.scaleb(scale)))


def pico_cost(
    rates: Rates, integer: tuple[int, ...], input_tokens: int, output_tokens: int,
    cached_input_tokens: int, cache_write_input_tokens: int, batch: bool,
) -> int:  # fmt: skip
    """`cost` in units of 10^-12 of the currency, as an int: in integers when `integer`
    (`integer_rates(rates)`, memoised by the caller) allows it, else through `cost` itself.
    Equal to `cost` for every usage and rates (tests/pricing/test_prices.py proves it)."""
    if integer:
        scale, r_in, r_out, r_cached, r_write, r_bin, r_bout, fee = integer
        if batch:
            r_in, r_out = r_bin, r_bout
        exact = (
            (input_tokens - cached_input_tokens - cache_write_input_tokens) * r_in
            + cached_input_tokens * r_cached + cache_write_input_tokens * r_write
            + output_tokens * r_out + fee
        )  # fmt: skip
        if exact < LIMIT:
            return _to_pico(exact, scale)
    usage = Usage(input_tokens, output_tokens, cached_input_tokens, cache_write_input_tokens, batch)
    return int(cost(usage, rates).scaleb(12))


def _to_pico(exact: int, scale: int) -> int:
    """An amount in units of 10^-scale rounded half-even to units of 10^-12 (what Decimal's
    quantize(Decimal("1e-12")) does)."""
    if scale == 12:
        return exact
    q, r = divmod(exact, 10 ** (scale - 12))
    half = 5 * 10 ** (scale - 13)
    return q + 1 if r > half or (r == half and q & 1) else q
