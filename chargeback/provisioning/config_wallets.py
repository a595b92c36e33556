"""The configuration file's `wallets` section (DESIGN.md 6.2)::

    wallets:          # kind: team | experimental (per unit) | central (unit: null)
      - {unit: SUP, kind: team, monthly_funding: "5000.00", hard_limit: true}
      - {unit: null, kind: central, monthly_funding: "20000.00", hard_limit: false}

A wallet is matched by (unit, kind). An entry describes the wallet's settings: `kind` defaults
to team (central when `unit` is null), `monthly_funding` to "0" (no recurring funding) and
`hard_limit` to true. A wallet the file does not mention is left alone, and money never moves
through the file: balances change only by ledger entries (funding by beat, commands, pages).
Amounts are decimal strings; a float is refused ("quote it"). Plans read; `apply_wallet` writes
through `chargeback.wallets.accounts`, audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from chargeback.money import quantize
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit
from chargeback.wallets.accounts import open_wallet, update_wallet
from chargeback.wallets.amounts import read_amount
from chargeback.wallets.models import Wallet, WalletKind

KEYS = ("unit", "kind", "monthly_funding", "hard_limit")


def plan_wallets(
    organization: Organization, value: Any, *, units: Mapping[str, bool], errors: list[str]
) -> list[dict]:
    """The changes (as `Change` keyword arguments) the section makes; problems go to `errors`.
    `units` maps the codes the file leads to onto their archived flag."""
    if not isinstance(value, list):
        errors.append(f"wallets: must be a list, not {type(value).__name__}")
        return []
    existing = {
        (w.unit.code if w.unit_id else None, w.kind): w
        for w in Wallet.objects.filter(organization=organization).select_related("unit")
    }
    changes, seen = [], set()
    for i, entry in enumerate(value):
        path = f"wallets[{i}]"
        doc = _read(entry, path, organization.currency, units, errors)
        if doc is None:
            continue
        key = (doc["unit"], doc["kind"])
        if key in seen:
            errors.append(f"{path}: a second {doc['kind']} wallet for {doc['unit'] or 'central'}")
            continue
        seen.add(key)
        current = existing.get(key)
        name = doc["unit"] or "central"
        label = name if doc["kind"] != WalletKind.EXPERIMENTAL else f"{name}:experimental"
        if current is None:
            fields = [("monthly_funding", None, doc["monthly_funding"]),
                      ("hard_limit", None, doc["hard_limit"])]  # fmt: skip
            action = "create"
        else:
            old = _doc(current)
            fields = [(k, old[k], doc[k]) for k in ("monthly_funding", "hard_limit")
                      if old[k] != doc[k]]  # fmt: skip
            if not fields:
                continue
            action = "update"
        changes.append(
            {
                "section": "wallets",
                "action": action,
                "key": label,
                "fields": fields,
                "path": path,
                "target": current.pk if current else None,
                "desired": doc,
            }
        )
    return changes


def _read(
    entry: Any, path: str, currency: str, units: Mapping[str, bool], errors: list[str]
) -> dict | None:
    if not isinstance(entry, dict):
        errors.append(f"{path}: must be a mapping such as {{unit: SUP, kind: team}}")
        return None
    problems = [f"{path}.{k}: unknown key (allowed: {', '.join(KEYS)})" for k in entry
                if k not in KEYS]  # fmt: skip
    unit = entry.get("unit")
    kind = entry.get("kind", WalletKind.TEAM if unit is not None else WalletKind.CENTRAL)
    if unit is not None and (not isinstance(unit, str) or unit not in units):
        problems.append(f'{path}.unit: unknown code "{unit}"')
    if kind not in WalletKind.values:
        problems.append(f'{path}.kind: "{kind}" is not one of {", ".join(WalletKind.values)}')
    elif (kind == WalletKind.CENTRAL) != (unit is None):
        problems.append(f"{path}.unit: a central wallet has unit: null; a {kind} wallet a unit")
    funding = entry.get("monthly_funding", "0")
    if isinstance(funding, bool) or not isinstance(funding, str | int):
        hint = "; quote it" if isinstance(funding, float) else ""
        problems.append(f'{path}.monthly_funding: must be a decimal such as "5000.00"{hint}')
    else:
        try:
            funding = read_amount(funding, currency, field="monthly_funding")
            if funding < 0:
                problems.append(f"{path}.monthly_funding: must not be negative")
        except ValidationError as exc:
            problems.extend(f"{path}.monthly_funding: {m}" for m in exc.messages)
    hard = entry.get("hard_limit", True)
    if not isinstance(hard, bool):
        problems.append(f"{path}.hard_limit: must be true or false")
    errors.extend(problems)
    if problems:
        return None
    return {"unit": unit, "kind": kind, "monthly_funding": str(funding), "hard_limit": hard}


def _doc(wallet: Wallet) -> dict:
    return {
        "unit": wallet.unit.code if wallet.unit_id else None,
        "kind": wallet.kind,
        "monthly_funding": str(quantize(wallet.monthly_funding, wallet.currency)),
        "hard_limit": wallet.hard_limit,
    }


def apply_wallet(organization: Organization, change: Any, actor: Any) -> None:
    d = change.desired
    if change.target is None:
        unit = None
        if d["unit"] is not None:
            unit = BusinessUnit.objects.get(organization=organization, code=d["unit"])
        open_wallet(organization=organization, unit=unit, kind=d["kind"], actor=actor,
                    hard_limit=d["hard_limit"], monthly_funding=d["monthly_funding"])  # fmt: skip
        return
    wallet = Wallet.objects.get(organization=organization, pk=change.target)
    update_wallet(wallet=wallet, actor=actor, hard_limit=d["hard_limit"],
                  monthly_funding=d["monthly_funding"])  # fmt: skip


def export_wallets(organization: Organization) -> list[dict]:
    wallets = Wallet.objects.filter(organization=organization).select_related("unit")
    docs = [_doc(w) for w in wallets]
    order = {WalletKind.CENTRAL: 0, WalletKind.TEAM: 1, WalletKind.EXPERIMENTAL: 2}
    return sorted(docs, key=lambda d: (d["unit"] is not None, d["unit"] or "", order[d["kind"]]))
