"""The configuration file's `budgets` section (DESIGN.md 6.2): one entry per unit,
`{unit: SUP, monthly: "4000.00", thresholds: [50, 80, 100], hard: false,
include_descendants: true}`, optionally with `currency` (it must be the organisation's).
A budget is matched by its unit's code; budgets the file does not mention are left alone.
Planning reads; applying goes through `chargeback.budgets.setting.set_budget`."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from chargeback.budgets.models import Budget, default_thresholds, threshold_errors
from chargeback.budgets.setting import parse_amount, set_budget
from chargeback.money import quantize
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit

KEYS = ("unit", "monthly", "thresholds", "hard", "include_descendants", "currency")


def plan_budgets(
    organization: Organization,
    value: Any,
    *,
    units: Mapping[str, bool],
    errors: list[str],
    **_: Any,
) -> list[dict]:
    """The changes (as `Change` keyword arguments); problems go to `errors` under their path."""
    if not isinstance(value, list):
        errors.append(f"budgets: must be a list, not {type(value).__name__}")
        return []
    existing = {
        b.unit.code: b
        for b in Budget.objects.filter(organization=organization).select_related("unit")
    }
    changes: list[dict] = []
    seen: set[str] = set()
    for i, entry in enumerate(value):
        path = f"budgets[{i}]"
        desired = _read(organization, entry, path=path, units=units, errors=errors)
        if desired is None:
            continue
        if desired["unit"] in seen:
            errors.append(f'{path}.unit: a second budget for "{desired["unit"]}" in the file')
            continue
        seen.add(desired["unit"])
        current = existing.get(desired["unit"])
        old = budget_doc(current) if current else None
        new = _doc(organization, desired)
        if old == new:
            continue
        fields = [(k, (old or {}).get(k), v) for k, v in new.items() if k != "unit"]
        changes.append(
            {
                "section": "budgets",
                "action": "update" if current else "create",
                "key": desired["unit"],
                "fields": [f for f in fields if f[1] != f[2]],
                "path": path,
                "target": current.pk if current else None,
                "desired": desired,
            }
        )
    return changes


def _read(organization, entry, *, path, units, errors) -> dict | None:
    if not isinstance(entry, dict):
        errors.append(f"{path}: must be a mapping, not {type(entry).__name__}")
        return None
    problems = [
        f"{path}.{k}: unknown key (allowed: {', '.join(KEYS)})" for k in entry if k not in KEYS
    ]
    code = entry.get("unit")
    if not isinstance(code, str) or not code:
        problems.append(f"{path}.unit: required (a unit code)")
    elif code not in units:
        problems.append(f'{path}.unit: unknown code "{code}"')
    amount = None
    if entry.get("monthly") is None:
        problems.append(f'{path}.monthly: required (an amount such as "4000.00")')
    else:
        try:
            amount = parse_amount(entry["monthly"], field="monthly")
            if amount <= 0:
                problems.append(f"{path}.monthly: must be more than zero")
        except ValidationError as exc:
            problems += [f"{path}.monthly: {m}" for m in exc.message_dict["monthly"]]
    thresholds = entry.get("thresholds", default_thresholds())
    problem = threshold_errors(thresholds)
    if problem:
        problems.append(f"{path}.thresholds: {problem}")
    flags = {}
    for key, default in (("hard", False), ("include_descendants", True)):
        flags[key] = entry.get(key, default)
        if not isinstance(flags[key], bool):
            problems.append(f"{path}.{key}: must be true or false")
    currency = entry.get("currency", organization.currency)
    if currency != organization.currency:
        problems.append(
            f'{path}.currency: "{currency}" is not the organisation\'s currency '
            f"({organization.currency}); budgets are in the organisation's currency"
        )
    if problems:
        errors.extend(problems)
        return None
    return {"unit": code, "monthly": amount, "thresholds": sorted(thresholds), **flags}


def _doc(organization: Organization, d: dict) -> dict:
    return {
        "unit": d["unit"],
        "monthly": _amount(d["monthly"], organization.currency),
        "thresholds": list(d["thresholds"]),
        "hard": d["hard"],
        "include_descendants": d["include_descendants"],
    }


def _amount(value: Decimal, currency: str) -> str:
    q = quantize(value, currency)
    return str(q) if q == value else format(Decimal(value).normalize(), "f")


def budget_doc(budget: Budget) -> dict:
    return {
        "unit": budget.unit.code,
        "monthly": _amount(budget.amount, budget.currency),
        "thresholds": sorted(budget.thresholds),
        "hard": budget.hard,
        "include_descendants": budget.include_descendants,
    }


def apply_budget(organization: Organization, change: Any, actor: Any) -> None:
    d = change.desired
    set_budget(
        organization=organization,
        unit=BusinessUnit.objects.get(organization=organization, code=d["unit"]),
        amount=d["monthly"],
        thresholds=d["thresholds"],
        hard=d["hard"],
        include_descendants=d["include_descendants"],
        actor=actor,
    )


def export_budgets(organization: Organization) -> list[dict]:
    budgets = Budget.objects.filter(organization=organization).select_related("unit")
    return [budget_doc(b) for b in budgets.order_by("unit__code")]
