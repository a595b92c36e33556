"""Reads of wallets for the commands and pages: one row per wallet with its sums."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from chargeback.money import quantize
from chargeback.tenancy.models import Organization
from chargeback.wallets.models import Wallet, WalletKind

KIND_ORDER = {WalletKind.CENTRAL: 0, WalletKind.TEAM: 1, WalletKind.EXPERIMENTAL: 2}


@dataclass(frozen=True)
class WalletRow:
    wallet: Wallet
    unit: str  # the unit's code, or "central"
    kind: str
    balance: Decimal
    reserved: Decimal
    available: Decimal
    hard_limit: bool

    def as_json(self) -> dict:
        return {
            "unit": self.unit,
            "kind": self.kind,
            "balance": str(self.balance),
            "reserved": str(self.reserved),
            "available": str(self.available),
            "hard_limit": self.hard_limit,
        }


def wallet_rows(organization: Organization) -> list[WalletRow]:
    wallets = Wallet.objects.filter(organization=organization).select_related("unit")
    rows = [
        WalletRow(
            wallet=w,
            unit=w.code,
            kind=w.kind,
            balance=quantize(w.balance, w.currency),
            reserved=quantize(w.reserved, w.currency),
            available=quantize(w.available, w.currency),
            hard_limit=w.hard_limit,
        )
        for w in wallets
    ]
    return sorted(rows, key=lambda r: (r.kind != WalletKind.CENTRAL, r.unit, KIND_ORDER[r.kind]))
