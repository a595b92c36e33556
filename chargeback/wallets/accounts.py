"""Opening and configuring wallets, and finding one by the name commands and the config file
use (a unit's code, or `central`). Each change is audited in its transaction."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from chargeback.audit.log import record, snapshot
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit
from chargeback.wallets.amounts import read_amount
from chargeback.wallets.models import Wallet, WalletKind

CENTRAL = "central"


def find_wallet(organization: Organization, name: str, kind: str | None = None) -> Wallet | None:
    """The wallet called `name` (a unit code or `central`), of `kind` (team by default for a
    unit). None when the unit has no such wallet yet; a ValidationError naming `wallet` for an
    unknown unit or a kind that does not fit."""
    unit, kind = resolve(organization, name, kind)
    return (
        Wallet.objects.filter(organization=organization, unit=unit, kind=kind)
        .select_related("unit", "organization")
        .first()
    )


def resolve(
    organization: Organization, name: str, kind: str | None, field: str = "wallet"
) -> tuple[BusinessUnit | None, str]:
    if kind is not None and kind not in WalletKind.values:
        raise ValidationError({"kind": f'"{kind}" is not one of {", ".join(WalletKind.values)}'})
    if (name or "").strip().lower() == CENTRAL:
        if kind not in (None, WalletKind.CENTRAL):
            raise ValidationError({"kind": "the central wallet has kind central"})
        return None, WalletKind.CENTRAL
    if kind == WalletKind.CENTRAL:
        raise ValidationError({"kind": 'a central wallet is named "central", not a unit'})
    unit = BusinessUnit.objects.filter(organization=organization, code=name).first()
    if unit is None:
        raise ValidationError({field: f'unknown unit "{name}" (a unit code, or central)'})
    return unit, kind or WalletKind.TEAM


def open_wallet(
    *,
    organization: Organization,
    unit: BusinessUnit | None,
    kind: str,
    actor: Any,
    hard_limit: bool = True,
    monthly_funding: object = Decimal(0),
) -> Wallet:
    """A new wallet in the organisation's currency. A second wallet of a kind is an error."""
    if (kind == WalletKind.CENTRAL) != (unit is None):
        raise ValidationError({"unit": "a central wallet has no unit; the other kinds have one"})
    if unit is not None and unit.organization_id != organization.pk:
        raise ValidationError({"unit": "belongs to another organisation"})
    funding = _funding(monthly_funding, organization.currency)
    wallet = Wallet(
        organization=organization,
        unit=unit,
        kind=kind,
        hard_limit=hard_limit,
        monthly_funding=funding,
        currency=organization.currency,
    )
    try:
        with transaction.atomic():
            wallet.save()
            record(organization=organization, actor=actor, action="wallet.opened", obj=wallet,
                   after=snapshot(wallet))  # fmt: skip
    except IntegrityError:
        raise ValidationError({"kind": f"{wallet.name} already has a {kind} wallet"}) from None
    return wallet


def update_wallet(
    *, wallet: Wallet, actor: Any, hard_limit: bool, monthly_funding: object
) -> Wallet:
    """Change a wallet's limit flag and monthly funding (its money moves only by entries)."""
    funding = _funding(monthly_funding, wallet.currency)
    with transaction.atomic():
        row = Wallet.objects.select_for_update().get(pk=wallet.pk)
        before = snapshot(row)
        row.hard_limit, row.monthly_funding = hard_limit, funding
        row.save(update_fields=["hard_limit", "monthly_funding"])
        after = snapshot(row)
        if before != after:
            record(organization=row.organization, actor=actor, action="wallet.updated",
                   obj=row, before=before, after=after)  # fmt: skip
    wallet.hard_limit, wallet.monthly_funding = hard_limit, funding
    return wallet


def _funding(value: object, currency: str) -> Decimal:
    amount = read_amount(value, currency, field="monthly_funding")
    if amount < 0:
        raise ValidationError({"monthly_funding": "must be zero or more"})
    return amount
