"""Beat work on wallets: release expired reservations and post monthly funding.

Each sweeper looks across organisations for the wallets with work (ids only) and queues one
org_task per wallet, which runs in the wallet's organisation's scope."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone
from django_scopes import scopes_disabled

from chargeback.tenancy.scoping import org_task
from chargeback.wallets.funding import fund_month, month_key
from chargeback.wallets.models import LedgerEntry, Reservation, ReservationState, Wallet
from chargeback.wallets.reservations import expire_reservations

EXPIRE_SWEEP = "wallets.expire_sweep"
FUNDING_SWEEP = "wallets.funding_sweep"


@org_task(Wallet, name="wallets.expire_reservations")
def expire_wallet(wallet_id: int, *, organization) -> int:
    return expire_reservations(organization=organization)


@org_task(Wallet, name="wallets.fund_wallet")
def fund_wallet(wallet_id: int, *, organization) -> str:
    wallet = Wallet.objects.select_related("unit", "organization").get(pk=wallet_id)
    entry = fund_month(wallet=wallet)
    return f"entry {entry.pk}" if entry else "already funded"


@shared_task(name=EXPIRE_SWEEP)
def expire_sweep() -> list[int]:
    # Across organisations on purpose: only the ids of organisations with expired holds.
    with scopes_disabled():
        due = (
            Reservation.objects.filter(
                state=ReservationState.PENDING, expires_at__lte=timezone.now()
            )
            .order_by("organization_id")
            .distinct()
            .values_list("organization_id", "wallet_id")
        )
        one_per_org = dict(due)
    for wallet_id in one_per_org.values():
        expire_wallet.delay(wallet_id)
    return sorted(one_per_org.values())


@shared_task(name=FUNDING_SWEEP)
def funding_sweep() -> list[int]:
    # Across organisations on purpose: the wallets whose month's funding is not posted yet.
    now = timezone.now()
    with scopes_disabled():
        wallets = list(Wallet.objects.filter(monthly_funding__gt=0).select_related("organization"))
        keys = {w.pk: month_key(w, w.organization, now)[1] for w in wallets}
        done = set(
            LedgerEntry.objects.filter(idempotency_key__in=list(keys.values())).values_list(
                "idempotency_key", flat=True
            )
        )
    due = [pk for pk, key in keys.items() if key not in done]
    for pk in due:
        fund_wallet.delay(pk)
    return due
