"""Headline figures and the business-unit table, computed from `queries.breakdown` rows.
Pure: plain dicts and Decimals in, small frozen dataclasses out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from chargeback.dashboards.charts import NO_SERVICE, share

ZERO = Decimal(0)
SORTS = ("name", "spend", "tokens", "requests", "share", "change")


@dataclass(frozen=True)
class Driver:
    dimension: str  # unit | service | model
    name: str
    delta: Decimal


@dataclass(frozen=True)
class Headline:
    spend: Decimal
    prior: Decimal
    requests: int
    tokens: int
    errors: int
    error_cost: Decimal
    unallocated: Decimal  # cost attributed to the central bucket by fallback
    driver: Driver | None

    @property
    def change(self) -> Decimal:
        return self.spend - self.prior

    @property
    def change_share(self) -> Decimal | None:
        return share(self.change, self.prior) if self.prior else None

    @property
    def unallocated_share(self) -> Decimal:
        return share(self.unallocated, self.spend)

    @property
    def coverage(self) -> Decimal:
        """Share of the spend attributed by evidence (key, account, tag, service, rule)."""
        return share(self.spend - self.unallocated, self.spend) if self.spend else ZERO


@dataclass(frozen=True)
class UnitRow:
    unit_id: int
    code: str
    name: str
    billing_mode: str
    spend: Decimal
    prior: Decimal
    tokens: int
    requests: int
    share: Decimal
    coverage: Decimal | None  # None without spend

    @property
    def change(self) -> Decimal:
        return self.spend - self.prior

    @property
    def change_share(self) -> Decimal | None:
        return share(self.change, self.prior) if self.prior else None


def headline(
    units: Iterable[Mapping],
    *,
    services: Iterable[Mapping] = (),
    models: Iterable[Mapping] = (),
    names: Mapping[int, str],
) -> Headline:
    """The totals come from the per-unit rows (each row of spend belongs to exactly one unit);
    the per-service and per-model rows only name the main driver."""
    units = list(units)
    return Headline(
        spend=sum((Decimal(r["cost"]) for r in units), ZERO),
        prior=sum((Decimal(r["prior_cost"]) for r in units), ZERO),
        requests=sum(r["requests"] for r in units),
        tokens=sum(r["input_tokens"] + r["output_tokens"] for r in units),
        errors=sum(r["errors"] for r in units),
        error_cost=sum((Decimal(r["error_cost"]) for r in units), ZERO),
        unallocated=sum((Decimal(r["central_cost"]) for r in units), ZERO),
        driver=main_driver(units=units, services=services, models=models, names=names),
    )


def main_driver(
    *,
    units: Iterable[Mapping],
    services: Iterable[Mapping] = (),
    models: Iterable[Mapping] = (),
    names: Mapping[int, str],
) -> Driver | None:
    """The unit, service or model whose spend moved most (largest absolute change against the
    prior window), among the dimensions with more than one value. Ties go to unit before
    service before model, then by name. Rows carry `cost` and `prior_cost` with their keys
    (`unit_id`; `service`; `provider` and `model`)."""
    deltas: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for dimension, rows, label in (
        ("unit", units, lambda r: names.get(r["unit_id"], f"unit {r['unit_id']}")),
        ("service", services, lambda r: r["service"] or NO_SERVICE),
        ("model", models, lambda r: f"{r['provider']}/{r['model']}"),
    ):
        for r in rows:
            deltas[dimension, label(r)] += Decimal(r["cost"]) - Decimal(r["prior_cost"])
    order = {"unit": 0, "service": 1, "model": 2}
    keys: dict[str, int] = defaultdict(int)
    for dimension, _name in deltas:
        keys[dimension] += 1
    # A dimension with a single value moved exactly as much as the total: it explains nothing.
    telling = {d for d, n in keys.items() if n > 1} or {"unit"}
    candidates = [kv for kv in deltas.items() if kv[0][0] in telling]
    best = sorted(candidates, key=lambda kv: (-abs(kv[1]), order[kv[0][0]], kv[0][1]))
    if not best or best[0][1] == 0:
        return None
    (dimension, name), delta = best[0]
    return Driver(dimension, name, delta)


def unit_rows(rows: Iterable[Mapping], units: Mapping, *, sort: str = "-spend") -> list[UnitRow]:
    """The business-unit table: one row per unit with spend in the window or the prior one.
    `units` maps ids to objects with code, name and billing_mode; `sort` is one of SORTS,
    optionally with a leading "-" for descending."""
    acc: dict[int, list] = {}
    for r in rows:
        a = acc.setdefault(r["unit_id"], [ZERO, ZERO, 0, 0, ZERO])
        a[0] += Decimal(r["cost"])
        a[1] += Decimal(r["prior_cost"])
        a[2] += r["input_tokens"] + r["output_tokens"]
        a[3] += r["requests"]
        a[4] += Decimal(r["central_cost"])
    total = sum((a[0] for a in acc.values()), ZERO)
    out = [
        UnitRow(
            unit_id=uid,
            code=units[uid].code,
            name=units[uid].name,
            billing_mode=units[uid].billing_mode,
            spend=spend,
            prior=prior,
            tokens=tokens,
            requests=requests,
            share=share(spend, total),
            coverage=share(spend - central, spend) if spend else None,
        )
        for uid, (spend, prior, tokens, requests, central) in acc.items()
        if uid in units
    ]
    key, descending = sort.lstrip("-"), sort.startswith("-")
    if key not in SORTS:
        key, descending = "spend", True
    field = {"spend": "spend", "share": "spend"}.get(key, key)
    out.sort(key=lambda u: u.name.lower())
    if key != "name":
        out.sort(key=lambda u: getattr(u, field), reverse=descending)
    elif descending:
        out.reverse()
    return out
