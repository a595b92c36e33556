"""Money that arrives by schedule or by statement: the monthly funding beat posts, and the
chargeback entries of final statements.

Monthly funding: a wallet's `monthly_funding` is posted once per wallet and month, the month
being the organisation's (its timezone), whenever the task first runs in that month; the key
`monthly:<wallet>:<YYYY-MM>` makes a second run, or a second worker, post nothing.

Chargebacks: a final chargeback statement is posted to its unit's team wallet, and the central
statement (which carries the hybrid baseline the central pool pays for each unit, as the
allocation engine put it there) to the central wallet; so the central pool pays up to the
baseline and the unit the overage, each exactly once per statement. A unit without a wallet
gets no entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from chargeback.billing.models import Statement, StatementMode, StatementStatus
from chargeback.money import quantize
from chargeback.tenancy.models import Organization
from chargeback.wallets.ledger import post_chargeback, post_credit, post_entry
from chargeback.wallets.models import EntryType, LedgerEntry, Wallet, WalletKind


def month_key(wallet: Wallet, organization: Organization, now: dt.datetime) -> tuple[str, str]:
    """(the organisation's month at `now` as YYYY-MM, the wallet's funding key for it)."""
    month = f"{timezone.localtime(now, organization.tz):%Y-%m}"
    return month, f"monthly:{wallet.pk}:{month}"


def fund_month(
    *, wallet: Wallet, now: dt.datetime | None = None, actor: Any = "beat"
) -> LedgerEntry | None:
    """Post this month's funding to `wallet` unless posted already; the new entry or None."""
    if wallet.monthly_funding <= 0 or wallet.read_only:
        return None
    month, key = month_key(wallet, wallet.organization, now or timezone.now())
    if LedgerEntry.objects.filter(organization_id=wallet.organization_id, idempotency_key=key):
        return None
    return post_entry(
        wallet=wallet,
        type=EntryType.FUNDING,
        amount=wallet.monthly_funding,
        reason=f"Monthly funding {month}",
        key=key,
        actor=actor,
    )


def fund_due_wallets(
    *, organization: Organization, now: dt.datetime | None = None, actor: Any = "beat"
) -> list[LedgerEntry]:
    wallets = Wallet.objects.filter(organization=organization, monthly_funding__gt=0)
    posted = [fund_month(wallet=w, now=now, actor=actor) for w in wallets.select_related("unit")]
    return [e for e in posted if e is not None]


def post_statements(
    *, organization: Organization, statement_ids: Iterable[int], actor: Any = "system"
) -> list[LedgerEntry]:
    """Post the final statements among `statement_ids` to their wallets (idempotent)."""
    statements = Statement.objects.filter(
        organization=organization, pk__in=list(statement_ids), status=StatementStatus.FINAL
    ).select_related("unit")
    wallets = {
        (w.unit_id, w.kind): w
        for w in Wallet.objects.filter(organization=organization).select_related("unit")
    }
    posted = []
    for statement in statements.order_by("pk"):
        wallet = _wallet_of(statement, wallets)
        if wallet is None:
            continue  # showback: no money moves; or no wallet
        amount = quantize(statement.total, organization.currency)
        if wallet is None or not amount:
            continue
        posted.append(
            post_chargeback(wallet=wallet, statement=statement, amount=amount, actor=actor)
        )
    return posted


def _wallet_of(statement: Statement, wallets: dict) -> Wallet | None:
    if statement.central:
        return wallets.get((None, WalletKind.CENTRAL))
    if statement.mode == StatementMode.CHARGEBACK:
        return wallets.get((statement.unit_id, WalletKind.TEAM))
    return None


def post_credit_note(
    *, organization: Organization, credit_note: Any, actor: Any = "system"
) -> LedgerEntry | None:
    """Post a credit note to its statement's wallet (idempotent); None without a wallet."""
    statement = credit_note.statement
    wallets = {
        (w.unit_id, w.kind): w
        for w in Wallet.objects.filter(organization=organization).select_related("unit")
    }
    wallet = _wallet_of(statement, wallets)
    if wallet is None:
        return None
    return post_credit(wallet=wallet, credit_note=credit_note, actor=actor)
