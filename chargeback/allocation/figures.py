"""The allocation engine's inputs and outputs, as frozen dataclasses: a month's usage per unit
(`MonthUsage` of `UnitUsage` of `ModelUsage`) goes in, an `Allocation` of one `Statement` of
`Line`s per unit comes out. `chargeback.allocation.engine.allocate` turns one into the other."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)
KINDS = (
    "usage",
    "markup",
    "platform_fee",
    "pool",
    "activity",
    "discount",
    "allowance",
    "adjustment",
    "confidence",
)


@dataclass(frozen=True)
class ModelUsage:
    provider: str
    model: str
    cost: Decimal
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    errors: int = 0
    error_cost: Decimal = ZERO  # the part of `cost` from failed or retried requests
    cache_hit_tokens: int = 0  # the part of the tokens served from a cache (never charged)


@dataclass(frozen=True)
class UnitUsage:
    code: str
    models: tuple[ModelUsage, ...] = ()
    services: tuple[tuple[str, Decimal], ...] = ()  # (service name, spend) within `models`
    outcomes: tuple[tuple[str, int], ...] = ()  # (outcome, count) for activity rates
    experiment_cost: Decimal = ZERO  # the spend the organisation counts as experiments
    # (attribution method, cost, error cost) within `models`: for the confidence gate
    methods: tuple[tuple[str, Decimal, Decimal], ...] = ()

    @property
    def cost(self) -> Decimal:
        return sum((m.cost for m in self.models), ZERO)

    @property
    def tokens(self) -> int:
        return sum(m.input_tokens + m.output_tokens for m in self.models)

    @property
    def tier_volume(self) -> int:
        """The tokens that decide the tier: cache hits are counted as requests and tokens
        but are not charged, so they do not move a unit up the tiers."""
        return self.tokens - sum(m.cache_hit_tokens for m in self.models)

    @property
    def requests(self) -> int:
        return sum(m.requests for m in self.models)


@dataclass(frozen=True)
class MonthUsage:
    currency: str
    central: str  # the central bucket's code
    units: tuple[UnitUsage, ...]
    unallocated: Decimal = ZERO  # the part of the central bucket's cost no evidence attributed


@dataclass(frozen=True)
class Line:
    kind: str
    description: str
    amount: Decimal
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    ref: str = ""  # provider/model, pool or discount name, or the other unit's code


@dataclass(frozen=True)
class Statement:
    unit: str
    central: bool
    tier: str | None
    lines: tuple[Line, ...]
    total: Decimal
    cost: Decimal  # usage cost at full precision
    tokens: int
    requests: int
    cost_per_outcome: tuple[tuple[str, Decimal], ...] = ()


@dataclass(frozen=True)
class Allocation:
    currency: str
    statements: tuple[Statement, ...]
    unallocated: Decimal

    @property
    def total(self) -> Decimal:
        return sum((s.total for s in self.statements), ZERO)

    def statement(self, code: str) -> Statement:
        return next(s for s in self.statements if s.unit == code)
