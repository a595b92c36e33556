"""The reconciliation of a month: metered (the priced events), allocated (the statements) and
billed (the provider invoices), compared by provider, model family, token class and day, and the
variance (billed - metered) split into causes computed from the data. Pure: plain values in,
frozen dataclasses out; Decimal throughout.

The causes (README "Reconciliation" has the same words):
- `cached_pricing`: cache-read and cache-write tokens the invoice prices differently from us:
  (the invoice's rate - our rate) x the invoice's quantity, per provider, model family and class;
- `batch_pricing`: tokens the invoice bills at a batch rate beyond those we metered as batch:
  that excess x (the invoice's batch rate - our regular rate);
- `discounts`: the invoice's negative lines (credits, discounts);
- `partial_usage`: failed requests we metered with usage where the invoice bills fewer tokens
  than we metered: minus their cost, at most the shortfall at our rate;
- `alias_lag`: quarantined records with a model we have no price for, at the invoice's rate for
  that model;
- `ingestion_gaps`: days on which the invoice has usage of a provider and we metered under half
  of it: the difference, less that day's alias lag and late events;
- `late_events`: the month's events that arrived after its statements were issued (not in the
  metered figure the statements were built from);
- `currency_rounding`: what rounding the figures to the currency's minor unit leaves;
- and `unexplained`, the rest: the causes and the unexplained rest sum exactly to the variance.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from chargeback.money import quantize

ZERO = Decimal(0)
HUNDRED = Decimal(100)
GAP_SHARE = Decimal("0.5")  # a day is a gap when we metered under this share of the invoice
CAUSES = (
    "cached_pricing", "batch_pricing", "discounts", "partial_usage", "alias_lag",
    "ingestion_gaps", "late_events", "currency_rounding",
)  # fmt: skip
CACHE_CLASSES = ("cached_input", "cache_write")
BATCH_OF = {"batch_input": "input", "batch_output": "output"}
_DATE_SUFFIX = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4}|@[\w.-]+|-latest|-preview)$")


def family(model: str) -> str:
    """The model family: the name without a date or version suffix
    (`gpt-4o-2024-08-06` -> `gpt-4o`, `claude-3-5-sonnet-20241022` -> `claude-3-5-sonnet`)."""
    name = model.strip().lower()
    while True:
        stripped = _DATE_SUFFIX.sub("", name)
        if stripped == name or not stripped:
            return name
        name = stripped


@dataclass(frozen=True)
class Metered:
    """Priced events of one provider, model, day and token class."""

    provider: str
    model: str
    day: dt.date
    token_class: str
    quantity: Decimal
    amount: Decimal
    late: bool = False  # arrived after the month's statements were issued
    error: bool = False  # failed requests with usage


@dataclass(frozen=True)
class Billed:
    provider: str
    model: str
    token_class: str
    quantity: Decimal
    amount: Decimal
    day: dt.date | None = None


@dataclass(frozen=True)
class Quarantined:
    """Tokens of quarantined records whose model has no price (the alias lag)."""

    provider: str
    model: str
    day: dt.date | None
    token_class: str
    quantity: Decimal


@dataclass(frozen=True)
class Cause:
    cause: str
    amount: Decimal
    detail: tuple[tuple[str, Decimal], ...] = ()


@dataclass(frozen=True)
class Row:
    label: str
    metered: Decimal
    billed: Decimal

    @property
    def variance(self) -> Decimal:
        return self.billed - self.metered

    @property
    def variance_pct(self) -> Decimal | None:
        return percent(self.variance, self.billed)


@dataclass(frozen=True)
class Reconciliation:
    currency: str
    metered: Decimal
    allocated: Decimal | None
    billed: Decimal
    causes: tuple[Cause, ...]
    unexplained: Decimal
    by_provider: tuple[Row, ...]
    by_family: tuple[Row, ...]
    by_token_class: tuple[Row, ...]
    by_day: tuple[Row, ...]

    @property
    def variance(self) -> Decimal:
        return self.billed - self.metered

    @property
    def variance_pct(self) -> Decimal | None:
        return percent(self.variance, self.billed)

    @property
    def unexplained_pct(self) -> Decimal | None:
        return percent(self.unexplained, self.billed)


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """`part` as a percentage of `whole`, to two places (None when `whole` is zero)."""
    if not whole:
        return None
    return (part * HUNDRED / whole).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _rate(amount: Decimal, quantity: Decimal) -> Decimal | None:
    return amount / quantity if quantity else None


def reconcile(
    *,
    currency: str,
    metered: Iterable[Metered],
    billed: Iterable[Billed],
    quarantined: Iterable[Quarantined] = (),
    allocated: Decimal | None = None,
) -> Reconciliation:
    metered, billed, quarantined = list(metered), list(billed), list(quarantined)
    on_time = [m for m in metered if not m.late]
    exact_metered = sum((m.amount for m in on_time), ZERO)
    exact_billed = sum((b.amount for b in billed), ZERO)
    m_key: dict[tuple, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])  # qty, amount
    err_key: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    for m in on_time:
        key = (m.provider, family(m.model), m.token_class)
        m_key[key][0] += m.quantity
        m_key[key][1] += m.amount
        if m.error:
            err_key[key] += m.amount
    b_key: dict[tuple, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for b in billed:
        if b.amount >= 0:
            key = (b.provider, family(b.model), b.token_class)
            b_key[key][0] += b.quantity
            b_key[key][1] += b.amount
    alias = _alias_lag(quarantined, b_key)
    exact = {
        "cached_pricing": _cached_pricing(m_key, b_key),
        "batch_pricing": _batch_pricing(m_key, b_key),
        "discounts": _discounts(billed),
        "partial_usage": _partial_usage(m_key, b_key, err_key),
        "alias_lag": alias,
        "ingestion_gaps": _ingestion_gaps(metered, billed, alias),
        "late_events": _late_events(metered),
    }
    return _present(
        currency=currency,
        exact_metered=exact_metered,
        exact_billed=exact_billed,
        exact_causes=exact,
        allocated=allocated,
        on_time=on_time,
        billed=billed,
    )


def _total(detail: dict[str, Decimal]) -> Decimal:
    return sum(detail.values(), ZERO)


def _cached_pricing(m_key: dict, b_key: dict) -> dict[str, Decimal]:
    out = {}
    for key, (q_b, a_b) in b_key.items():
        q_m, a_m = m_key.get(key, (ZERO, ZERO))
        if key[2] in CACHE_CLASSES and q_b and q_m:
            out["/".join(key)] = (a_b / q_b - a_m / q_m) * q_b
    return out


def _batch_pricing(m_key: dict, b_key: dict) -> dict[str, Decimal]:
    out = {}
    for key, (q_b, a_b) in b_key.items():
        regular = BATCH_OF.get(key[2])
        if regular is None or not q_b:
            continue
        q_mb = m_key.get(key, (ZERO, ZERO))[0]
        q_reg, a_reg = m_key.get((key[0], key[1], regular), (ZERO, ZERO))
        extra = min(q_b - q_mb, q_reg)
        if extra > 0:
            out["/".join(key)] = extra * (a_b / q_b - a_reg / q_reg)
    return out


def _discounts(billed: list[Billed]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for b in billed:
        if b.amount < 0:
            out[f"{b.provider}/{b.model or b.token_class}"] += b.amount
    return dict(out)


def _partial_usage(m_key: dict, b_key: dict, err_key: dict) -> dict[str, Decimal]:
    out = {}
    for key, error_cost in err_key.items():
        if key not in b_key or not error_cost:
            continue
        q_m, a_m = m_key[key]
        q_b = b_key[key][0]
        if q_b < q_m and q_m:
            shortfall = (q_m - q_b) * a_m / q_m
            out["/".join(key)] = -min(error_cost, shortfall)
    return out


def _alias_lag(quarantined: list[Quarantined], b_key: dict) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for q in quarantined:
        q_b, a_b = b_key.get((q.provider, family(q.model), q.token_class), (ZERO, ZERO))
        rate = _rate(a_b, q_b)
        if rate is not None and q.quantity:
            day = q.day.isoformat() if q.day else ""
            out[f"{q.provider}/{q.model}|{day}"] += q.quantity * rate
    return dict(out)


def _ingestion_gaps(
    metered: list[Metered], billed: list[Billed], alias: dict[str, Decimal]
) -> dict[str, Decimal]:
    billed_day: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    for b in billed:
        if b.day is not None and b.amount > 0:
            billed_day[(b.provider, b.day)] += b.amount
    metered_day: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    late_day: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    for m in metered:
        (late_day if m.late else metered_day)[(m.provider, m.day)] += m.amount
    alias_day: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    for label, amount in alias.items():
        provider_model, _, day = label.partition("|")
        if day:
            alias_day[(provider_model.split("/", 1)[0], dt.date.fromisoformat(day))] += amount
    out = {}
    for (provider, day), amount in sorted(billed_day.items()):
        ours = metered_day.get((provider, day), ZERO)
        if ours < amount * GAP_SHARE:
            gap = amount - ours - alias_day[(provider, day)] - late_day[(provider, day)]
            if gap > 0:
                out[f"{provider} {day.isoformat()}"] = gap
    return out


def _late_events(metered: list[Metered]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for m in metered:
        if m.late:
            out[f"{m.provider}/{m.model}"] += m.amount
    return dict(out)


def _rows(pairs: Iterable[tuple[str, Decimal, Decimal]], currency: str) -> tuple[Row, ...]:
    acc: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for label, metered, billed in pairs:
        acc[label][0] += metered
        acc[label][1] += billed
    return tuple(
        Row(label, quantize(m, currency), quantize(b, currency))
        for label, (m, b) in sorted(acc.items())
    )


def _present(
    *,
    currency: str,
    exact_metered: Decimal,
    exact_billed: Decimal,
    exact_causes: dict[str, dict[str, Decimal]],
    allocated: Decimal | None,
    on_time: list[Metered],
    billed: list[Billed],
) -> Reconciliation:
    """The figures in the currency's minor unit. Each cause is rounded; the unexplained rest is
    the exact rest rounded; `currency_rounding` is what the rounding leaves, so that the causes
    and the unexplained rest sum exactly to the rounded variance."""
    metered_q, billed_q = quantize(exact_metered, currency), quantize(exact_billed, currency)
    variance_q = billed_q - metered_q
    causes, explained_exact = [], ZERO
    for name, detail in exact_causes.items():
        amount = _total(detail)
        explained_exact += amount
        rows = tuple(
            (label, quantize(value, currency)) for label, value in sorted(detail.items()) if value
        )
        causes.append(Cause(name, quantize(amount, currency), rows))
    unexplained_q = quantize(exact_billed - exact_metered - explained_exact, currency)
    rounding = variance_q - sum((c.amount for c in causes), ZERO) - unexplained_q
    causes.append(Cause("currency_rounding", rounding))
    by = {
        "provider": lambda x: x.provider,
        "family": lambda x: f"{x.provider}/{family(x.model) or '(no model)'}",
        "token_class": lambda x: x.token_class,
    }
    tables = {
        name: _rows(
            [(key(m), m.amount, ZERO) for m in on_time]
            + [(key(b), ZERO, b.amount) for b in billed],
            currency,
        )
        for name, key in by.items()
    }
    by_day = _rows(
        [(m.day.isoformat(), m.amount, ZERO) for m in on_time]
        + [(b.day.isoformat() if b.day else "(no day)", ZERO, b.amount) for b in billed],
        currency,
    )
    return Reconciliation(
        currency=currency,
        metered=metered_q,
        allocated=None if allocated is None else quantize(allocated, currency),
        billed=billed_q,
        causes=tuple(causes),
        unexplained=unexplained_q,
        by_provider=tables["provider"],
        by_family=tables["family"],
        by_token_class=tables["token_class"],
        by_day=by_day,
    )
