"""Reads of wallets for the commands and pages: one row per wallet with its sums."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from chargeback.calendar import Period, local_today, start_of_day
from chargeback.money import quantize
from chargeback.tenancy.models import Organization
from chargeback.wallets.charts import daily_balances
from chargeback.wallets.models import EntryType, LedgerEntry, Wallet, WalletKind

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


@dataclass(frozen=True)
class Overview:
    row: WalletRow
    burn: Decimal  # spent this month: settlements and chargebacks
    runway_days: int | None  # at this month's daily burn; None without burn


def month_start(organization: Organization, now: dt.datetime) -> dt.datetime:
    """The instant this month began in the organisation's timezone."""
    return start_of_day(Period.of(local_today(organization.tz, now)).first, organization.tz)


SECONDS_A_DAY = Decimal(86400)


def runway_days(available: Decimal, burn: Decimal, elapsed: dt.timedelta) -> int | None:
    """Whole days `available` lasts at the month's burn rate so far (`burn` over `elapsed`,
    counted as at least a day), in Decimal; None when nothing was burnt, 0 when nothing is
    available."""
    if burn <= 0:
        return None
    days = max(Decimal(int(elapsed.total_seconds())) / SECONDS_A_DAY, Decimal(1))
    return max(int(available / (burn / days)), 0)


def overview(
    organization: Organization, *, unit_ids: set[int] | None, now: dt.datetime | None = None
) -> list[Overview]:
    """Every wallet (a team lead's: its units' only) with this month's burn and runway."""
    now = now or timezone.now()
    start = month_start(organization, now)
    rows = [
        r
        for r in wallet_rows(organization)
        if unit_ids is None or (r.wallet.unit_id is not None and r.wallet.unit_id in unit_ids)
    ]
    spent = dict(
        LedgerEntry.objects.filter(
            organization=organization,
            type__in=[EntryType.SETTLEMENT, EntryType.CHARGEBACK],
            created_at__gte=start,
            amount__lt=0,
        )
        .values("wallet")
        .annotate(total=Sum("amount"))
        .values_list("wallet", "total")
    )
    out = []
    for r in rows:
        burn = quantize(-(spent.get(r.wallet.pk) or Decimal(0)), organization.currency)
        runway = runway_days(r.available, burn, now - start)
        out.append(Overview(row=r, burn=burn, runway_days=runway))
    return out


def ledger_rows(entries) -> list[list[str]]:
    """The ledger as CSV rows (header first)."""
    rows = [["id", "created_at", "type", "amount", "pending", "reason", "key", "created_by"]]
    for e in entries:
        rows.append([str(e.pk), e.created_at.isoformat(), e.type, str(e.amount), str(e.pending),
                     e.reason, e.idempotency_key, e.created_by])  # fmt: skip
    return rows


def balance_series(wallet: Wallet, *, days: int = 90, now: dt.datetime | None = None) -> list:
    """The wallet's balance at the end of each of the last `days` days (organisation's time)."""
    tz = wallet.organization.tz
    today = timezone.localtime(now or timezone.now(), tz).date()
    span = [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]
    start = start_of_day(span[0], tz)
    rows = LedgerEntry.objects.filter(
        organization_id=wallet.organization_id, wallet=wallet, created_at__gte=start
    ).values_list("created_at", "amount")
    amounts = [(timezone.localtime(at, tz).date(), amount) for at, amount in rows]
    return daily_balances(end_balance=wallet.balance, amounts=amounts, days=span)
