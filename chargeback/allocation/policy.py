"""The allocation policy (DESIGN 6.2 `policy`): frozen dataclasses, `parse_policy` for the file
and the stored JSON, and `policy_doc` to write it back. Pure: no ORM.

Every problem is reported under its path: `policy.tiers[1].markup: "abc" is not a decimal`.
Amounts and rates are decimal strings ("0.50"); a YAML/JSON float is refused ("quote it"),
because a float cannot carry money exactly. Token counts are integers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from chargeback.calendar import is_month
from chargeback.units.attribution import METHODS

CHARGE_BASES = ("token", "request", "task", "blended")
TIER_MODES = ("volume", "graduated")
FAILED_POLICIES = ("owner", "platform")
POOL_BASES = ("spend", "tokens", "requests", "fixed")
DISCOUNT_BASES = ("model_spend",)
CONFIDENT = METHODS[:-1]  # attribution methods, most confident first (not the fallback)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Tier:
    name: str
    up_to_tokens: int | None  # exclusive; None for the open top tier
    markup: Decimal


DEFAULT_TIERS = (
    Tier("Experimental", 10_000_000, Decimal("0.50")),
    Tier("Standard", 100_000_000, Decimal("0.20")),
    Tier("Enterprise", None, Decimal("0.10")),
)


@dataclass(frozen=True)
class Pool:
    """A shared cost: a manual amount, the unallocated spend or a shared service's spend,
    shared over `targets` (None: every unit but the central bucket) by `basis`."""

    name: str
    source: str  # manual | unallocated | service:<name>
    basis: str = "spend"
    amount: Decimal | None = None  # manual pools only
    weights: tuple[tuple[str, Decimal], ...] = ()  # basis fixed: (unit code, weight), sorted
    targets: tuple[str, ...] | None = None

    @property
    def service(self) -> str | None:
        return self.source.split(":", 1)[1] if self.source.startswith("service:") else None


@dataclass(frozen=True)
class ActivityRate:
    unit: str
    outcome: str
    rate: Decimal


@dataclass(frozen=True)
class Discount:
    """An invoice-time discount, shared by each unit's spend on `models` (all models if empty)."""

    name: str
    amount: Decimal
    basis: str = "model_spend"
    models: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    effective_from: str | None = None  # YYYY-MM
    charge_basis: str = "token"
    tier_mode: str = "volume"
    tiers: tuple[Tier, ...] = DEFAULT_TIERS
    fee_percent: Decimal = ZERO
    fee_fixed: Decimal = ZERO
    fee_fixed_to: str = "units_with_usage"  # or "all_units": also units without usage
    failed_requests: str = "owner"
    pools: tuple[Pool, ...] = ()
    central_baseline: Decimal = ZERO
    activity_rates: tuple[ActivityRate, ...] = ()
    discounts: tuple[Discount, ...] = ()
    allowance_per_unit: Decimal = ZERO
    confidence_min: str | None = None  # the least confident method still charged (None: all)

    @property
    def fixed_fee_for_all(self) -> bool:
        """Whether every active unit takes part in the month for its fixed platform fee, with
        or without usage (by default only units that have usage pay it)."""
        return bool(self.fee_fixed) and self.fee_fixed_to == "all_units"


FIXED_FEE_TO = ("units_with_usage", "all_units")


class PolicyError(ValueError):
    """An invalid policy; `errors` lists every problem, each led by its path."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


KEYS = (
    "effective_from",
    "charge_basis",
    "tier_mode",
    "tiers",
    "platform_fee",
    "failed_requests",
    "pools",
    "hybrid",
    "activity_rates",
    "discounts",
    "experimental_allowance",
    "confidence_gate",
)


def parse_policy(
    data: Any,
    *,
    path: str = "policy",
    units: Mapping[str, bool] | None = None,
    require_month: bool = False,
) -> Policy:
    """The document -> a Policy, or PolicyError with every problem. `units` (code -> archived)
    checks the unit codes the policy names; `require_month` makes `effective_from` required."""
    r = _Reader(path, units)
    doc = r.mapping(data, path, KEYS)
    if doc is None:
        raise PolicyError(r.errors)
    month = doc.get("effective_from")
    if month is None:
        if require_month:
            r.fail(f"{path}.effective_from", 'required, a month such as "2026-10"')
    elif not isinstance(month, str) or not is_month(month.strip()):
        r.fail(f"{path}.effective_from", f"{_show(month)} is not a month (YYYY-MM)")
        month = None
    else:
        month = month.strip()
    fee = (
        r.mapping(
            doc.get("platform_fee", {}),
            f"{path}.platform_fee",
            ("percent", "fixed_per_unit", "fixed_to"),
        )
        or {}
    )
    hybrid = (
        r.mapping(doc.get("hybrid", {}), f"{path}.hybrid", ("central_baseline_per_unit",)) or {}
    )
    allowance = (
        r.mapping(
            doc.get("experimental_allowance", {}), f"{path}.experimental_allowance", ("per_unit",)
        )
        or {}
    )
    gate = r.mapping(doc.get("confidence_gate"), f"{path}.confidence_gate", ("min_method",)) or {}
    policy = Policy(
        effective_from=month,
        charge_basis=r.choice(doc, "charge_basis", path, CHARGE_BASES),
        tier_mode=r.choice(doc, "tier_mode", path, TIER_MODES),
        tiers=r.tiers(doc.get("tiers"), f"{path}.tiers"),
        fee_percent=r.decimal(fee.get("percent", "0"), f"{path}.platform_fee.percent", most=1),
        fee_fixed=r.decimal(fee.get("fixed_per_unit", "0"), f"{path}.platform_fee.fixed_per_unit"),
        fee_fixed_to=r.choice(fee, "fixed_to", f"{path}.platform_fee", FIXED_FEE_TO),
        failed_requests=r.choice(doc, "failed_requests", path, FAILED_POLICIES),
        pools=r.pools(doc.get("pools"), f"{path}.pools"),
        central_baseline=r.decimal(
            hybrid.get("central_baseline_per_unit", "0"), f"{path}.hybrid.central_baseline_per_unit"
        ),
        activity_rates=r.rates(doc.get("activity_rates"), f"{path}.activity_rates"),
        discounts=r.discounts(doc.get("discounts"), f"{path}.discounts"),
        allowance_per_unit=r.decimal(
            allowance.get("per_unit", "0"), f"{path}.experimental_allowance.per_unit"
        ),
        confidence_min=r.choice(gate, "min_method", f"{path}.confidence_gate", CONFIDENT)
        if gate.get("min_method") is not None
        else None,
    )
    if r.errors:
        raise PolicyError(r.errors)
    return policy


def policy_doc(policy: Policy) -> dict:
    """The policy as the file and the stored JSON hold it; `parse_policy` of it is equal."""
    doc: dict[str, Any] = {}
    if policy.effective_from:
        doc["effective_from"] = policy.effective_from
    doc |= {
        "charge_basis": policy.charge_basis,
        "tier_mode": policy.tier_mode,
        "tiers": [
            {"name": t.name, "up_to_tokens": t.up_to_tokens, "markup": str(t.markup)}
            for t in policy.tiers
        ],
        "platform_fee": {
            "percent": str(policy.fee_percent),
            "fixed_per_unit": str(policy.fee_fixed),
        }
        | ({"fixed_to": policy.fee_fixed_to} if policy.fee_fixed_to != FIXED_FEE_TO[0] else {}),
        "failed_requests": policy.failed_requests,
        "pools": [_pool_doc(p) for p in policy.pools],
        "hybrid": {"central_baseline_per_unit": str(policy.central_baseline)},
        "activity_rates": [
            {"unit": a.unit, "outcome": a.outcome, "rate": str(a.rate)}
            for a in policy.activity_rates
        ],
        "discounts": [_discount_doc(d) for d in policy.discounts],
        "experimental_allowance": {"per_unit": str(policy.allowance_per_unit)},
    }
    if policy.confidence_min:
        doc["confidence_gate"] = {"min_method": policy.confidence_min}
    return doc


def _pool_doc(pool: Pool) -> dict:
    doc: dict[str, Any] = {"name": pool.name, "source": pool.source}
    if pool.amount is not None:
        doc["amount"] = str(pool.amount)
    doc["basis"] = pool.basis
    if pool.weights:
        doc["weights"] = {code: str(w) for code, w in pool.weights}
    else:
        doc["targets"] = "all" if pool.targets is None else list(pool.targets)
    return doc


def _discount_doc(discount: Discount) -> dict:
    doc: dict[str, Any] = {
        "name": discount.name,
        "amount": str(discount.amount),
        "basis": discount.basis,
    }
    if discount.models:
        doc["models"] = list(discount.models)
    return doc


def _show(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"')[:80] + '"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"a number ({value})"
    return {list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


class _Reader:
    def __init__(self, path: str, units: Mapping[str, bool] | None) -> None:
        self.path, self.units, self.errors = path, units, []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def mapping(self, value: Any, path: str, keys: tuple[str, ...]) -> dict | None:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping, not {_show(value)}")
            return None
        for key in value:
            if key not in keys:
                self.fail(f"{path}.{key}", f"unknown key (allowed: {', '.join(keys)})")
        return value

    def items(self, value: Any, path: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"must be a list, not {_show(value)}")
            return []
        return value

    def text(self, entry: dict, key: str, path: str, default: str | None = None) -> str:
        value = entry.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if default is None:
                self.fail(f"{path}.{key}", "required")
            return default or ""
        if not isinstance(value, str):
            self.fail(f"{path}.{key}", f"must be text, not {_show(value)}")
            return ""
        if len(value) > 200 or "\x00" in value:
            self.fail(f"{path}.{key}", "must be at most 200 characters, without NUL")
            return ""
        return value.strip()

    def choice(self, doc: dict, key: str, path: str, choices: tuple[str, ...]) -> str:
        value = doc.get(key)
        if value is None:
            return choices[0]
        if value not in choices:
            self.fail(f"{path}.{key}", f"{_show(value)} is not one of {', '.join(choices)}")
            return choices[0]
        return value

    def decimal(self, value: Any, path: str, *, most: Decimal | int | None = None) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | str):
            hint = "; quote it" if isinstance(value, float) else ""
            self.fail(path, f'must be a decimal such as "0.50", not {_show(value)}{hint}')
            return ZERO
        try:
            number = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            self.fail(path, f"{_show(value)} is not a decimal")
            return ZERO
        if number < 0:
            self.fail(path, f"{_show(value)} must not be negative")
            return ZERO
        if most is not None and number > most:
            self.fail(path, f'{_show(value)} is more than {most} (write 15% as "0.15")')
            return ZERO
        return number

    def unit(self, code: Any, path: str) -> str:
        if not isinstance(code, str) or not code.strip():
            self.fail(path, f"must be a unit code, not {_show(code)}")
            return ""
        code = code.strip()
        if self.units is not None:
            if code not in self.units:
                self.fail(path, f'unknown unit "{code}"')
            elif self.units[code]:
                self.fail(path, f'unit "{code}" is archived')
        return code

    def tiers(self, value: Any, path: str) -> tuple[Tier, ...]:
        if value is None:
            return DEFAULT_TIERS
        entries = self.items(value, path)
        if not entries and isinstance(value, list):
            self.fail(path, "needs at least one tier")
        out: list[Tier] = []
        names: set[str] = set()
        for i, entry in enumerate(entries):
            p = f"{path}[{i}]"
            entry = self.mapping(entry, p, ("name", "up_to_tokens", "markup"))
            if entry is None:
                continue
            name = self.text(entry, "name", p)
            if name and name.lower() in names:
                self.fail(f"{p}.name", f'duplicate tier "{name}"')
            names.add(name.lower())
            up_to = entry.get("up_to_tokens")
            if isinstance(up_to, str) and up_to.strip().isdigit():
                up_to = int(up_to)
            if up_to is not None and (
                isinstance(up_to, bool) or not isinstance(up_to, int) or up_to <= 0
            ):
                self.fail(
                    f"{p}.up_to_tokens",
                    f"must be a positive whole number or null, not {_show(up_to)}",
                )
                up_to = 0
            last = i == len(entries) - 1
            if up_to is None and not last:
                self.fail(f"{p}.up_to_tokens", "only the last tier may be open (null)")
            elif up_to is not None and last:
                self.fail(
                    f"{p}.up_to_tokens",
                    "the last tier must be open (null): tokens above it would have no tier",
                )
            elif (
                out
                and up_to is not None
                and out[-1].up_to_tokens is not None
                and up_to <= out[-1].up_to_tokens
            ):
                self.fail(
                    f"{p}.up_to_tokens",
                    f"{up_to} must be above the previous tier's {out[-1].up_to_tokens}",
                )
            markup = self.decimal(entry.get("markup", "0"), f"{p}.markup")
            out.append(Tier(name, up_to, markup))
        return tuple(out)

    def pools(self, value: Any, path: str) -> tuple[Pool, ...]:
        out: list[Pool] = []
        names: set[str] = set()
        keys = ("name", "source", "amount", "basis", "weights", "targets")
        for i, entry in enumerate(self.items(value, path)):
            p = f"{path}[{i}]"
            entry = self.mapping(entry, p, keys)
            if entry is None:
                continue
            name = self.text(entry, "name", p)
            if name and name.lower() in names:
                self.fail(f"{p}.name", f'duplicate pool "{name}"')
            names.add(name.lower())
            source = self.text(entry, "source", p, default="manual")
            if source not in ("manual", "unallocated") and not (
                source.startswith("service:") and source[8:].strip()
            ):
                self.fail(
                    f"{p}.source",
                    f"{_show(source)} is not one of manual, unallocated, service:<name>",
                )
            amount = None
            if source == "manual":
                if entry.get("amount") is None:
                    self.fail(f"{p}.amount", "required for a manual pool")
                else:
                    amount = self.decimal(entry["amount"], f"{p}.amount")
            elif "amount" in entry:
                self.fail(f"{p}.amount", "only a manual pool has an amount")
            basis = self.choice(entry, "basis", p, POOL_BASES)
            weights: list[tuple[str, Decimal]] = []
            targets: tuple[str, ...] | None = None
            raw_targets = entry.get("targets", "all")
            if basis == "fixed":
                raw = entry.get("weights")
                if not isinstance(raw, dict) or not raw:
                    self.fail(
                        f"{p}.weights",
                        'required for basis fixed, a mapping such as {SUP: "2", SALES: "1"}',
                    )
                else:
                    for code, w in raw.items():
                        weights.append(
                            (
                                self.unit(code, f"{p}.weights"),
                                self.decimal(w, f"{p}.weights.{code}"),
                            )
                        )
                    if sum((w for _, w in weights), ZERO) == 0:
                        self.fail(f"{p}.weights", "the weights sum to zero")
                if raw_targets not in ("all", None):
                    self.fail(f"{p}.targets", "basis fixed takes its targets from weights")
            elif "weights" in entry:
                self.fail(f"{p}.weights", "only basis fixed has weights")
            if basis != "fixed" and raw_targets not in ("all", None):
                if not isinstance(raw_targets, list) or not raw_targets:
                    self.fail(
                        f"{p}.targets",
                        f'must be "all" or a list of unit codes, not {_show(raw_targets)}',
                    )
                else:
                    targets = tuple(
                        sorted(
                            {self.unit(c, f"{p}.targets[{j}]") for j, c in enumerate(raw_targets)}
                        )
                    )
            out.append(Pool(name, source, basis, amount, tuple(sorted(weights)), targets))
        return tuple(out)

    def rates(self, value: Any, path: str) -> tuple[ActivityRate, ...]:
        out: dict[tuple[str, str], ActivityRate] = {}
        for i, entry in enumerate(self.items(value, path)):
            p = f"{path}[{i}]"
            entry = self.mapping(entry, p, ("unit", "outcome", "rate"))
            if entry is None:
                continue
            unit = self.unit(entry.get("unit"), f"{p}.unit")
            outcome = self.text(entry, "outcome", p)
            rate = self.decimal(entry.get("rate"), f"{p}.rate")
            if (unit, outcome) in out:
                self.fail(p, f'a second rate for {unit} "{outcome}"')
            out[(unit, outcome)] = ActivityRate(unit, outcome, rate)
        return tuple(out[k] for k in sorted(out))

    def discounts(self, value: Any, path: str) -> tuple[Discount, ...]:
        out: list[Discount] = []
        for i, entry in enumerate(self.items(value, path)):
            p = f"{path}[{i}]"
            entry = self.mapping(entry, p, ("name", "amount", "basis", "models"))
            if entry is None:
                continue
            models = entry.get("models") or []
            if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
                self.fail(f"{p}.models", "must be a list of model names")
                models = []
            out.append(
                Discount(
                    self.text(entry, "name", p),
                    self.decimal(entry.get("amount"), f"{p}.amount"),
                    self.choice(entry, "basis", p, DISCOUNT_BASES),
                    tuple(sorted(set(models))),
                )
            )
        return tuple(out)
