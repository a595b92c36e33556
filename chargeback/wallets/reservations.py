"""Two-phase spending, as TigerBeetle's pending transfers: `reserve` holds money on a wallet,
then exactly one of `settle` (post at most the held amount, release the rest in the same
step), `void` or expiry (`expire_reservations`, run by beat) resolves it.

A reservation entry carries its amount in `pending` (the balance does not move); a settlement
moves `amount` and lets go of the hold; a release only lets go. The caller's request id is the
idempotency key: reserving it again returns the first reservation, settling a posted one returns
the first result. Every verb locks the wallet row first, then the reservation, so concurrent
calls on one wallet serialise and a hard wallet's holds never exceed its balance.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from chargeback.audit.log import record
from chargeback.sql import Insert
from chargeback.tenancy.models import Organization
from chargeback.wallets.amounts import read_amount, round_up
from chargeback.wallets.ledger import append, lock, refuse_read_only
from chargeback.wallets.models import EntryType, Reservation, ReservationState, Wallet

DEFAULT_TTL = dt.timedelta(minutes=15)
NEW = Insert(Reservation)


class WalletExhausted(ValidationError):
    """A hard wallet's available amount does not cover the reservation."""

    reason = "wallet_exhausted"


class ReservationClosed(ValidationError):
    """The reservation was voided or expired: it cannot be settled (or voided) any more."""


@dataclass(frozen=True)
class Settlement:
    reservation: Reservation
    posted: Decimal
    released: Decimal


def _estimate(amount: object, currency: str) -> Decimal:
    if isinstance(amount, float):
        raise ValidationError({"amount": "must be a decimal number, not a float"})
    try:
        value = Decimal(str(amount))
    except ArithmeticError:
        raise ValidationError({"amount": f'"{amount}" is not a number'}) from None
    if not value.is_finite() or value <= 0:
        raise ValidationError({"amount": "must be more than zero"})
    return read_amount(round_up(value, currency), currency)


def _asked(request_id: str, amount: object, currency: str) -> tuple[str, Decimal]:
    """The request id (stripped, 1 to 200 characters) and the amount to hold."""
    request_id = (request_id or "").strip()
    if not request_id or len(request_id) > 200:
        raise ValidationError({"request_id": "required, at most 200 characters"})
    return request_id, _estimate(amount, currency)


def reserve(
    *,
    wallet: Wallet,
    request_id: str,
    amount: object,
    actor: Any,
    ttl: dt.timedelta = DEFAULT_TTL,
    now: dt.datetime | None = None,
) -> Reservation:
    """Hold `amount` (rounded up to the minor unit) on `wallet` until `now + ttl`. A hard
    wallet refuses with WalletExhausted when its available amount falls short; a soft one
    holds anyway. The same request id returns the same reservation and writes nothing."""
    request_id, value = _asked(request_id, amount, wallet.currency)
    try:
        return _reserve(wallet, request_id, value, actor, (now or timezone.now()) + ttl)
    except IntegrityError:  # the same request id, at the same moment, on another wallet
        first = Reservation.objects.get(
            organization_id=wallet.organization_id, request_id=request_id
        )
        if first.wallet_id != wallet.pk:
            raise ValidationError({"request_id": "was used for another wallet"}) from None
        return first


def _reserve(
    wallet: Wallet, request_id: str, value: Decimal, actor: Any, expires_at: dt.datetime
) -> Reservation:
    with transaction.atomic():
        (locked,) = lock(wallet)
        first = Reservation.objects.filter(
            organization_id=locked.organization_id, request_id=request_id
        ).first()
        if first is not None:
            if first.wallet_id != locked.pk:
                raise ValidationError({"request_id": "was used for another wallet"})
            return first
        reservation = _hold(locked, request_id, value, actor, expires_at)
    wallet.balance, wallet.reserved = locked.balance, locked.reserved
    return reservation


def hold_locked(
    *,
    wallet: Wallet,
    request_id: str,
    amount: object,
    actor: Any,
    ttl: dt.timedelta = DEFAULT_TTL,
    now: dt.datetime | None = None,
) -> Reservation:
    """`reserve` for a caller that already holds `wallet`'s row lock (read with
    `select_for_update`, fresh) in its open transaction and has checked the request id is new:
    no second lock, no look-up, no savepoint. A request id reserved meanwhile raises
    IntegrityError, which breaks the caller's transaction: the caller rolls it back."""
    request_id, value = _asked(request_id, amount, wallet.currency)
    return _hold(wallet, request_id, value, actor, (now or timezone.now()) + ttl)


def _hold(
    locked: Wallet, request_id: str, value: Decimal, actor: Any, expires_at: dt.datetime
) -> Reservation:
    refuse_read_only(locked)
    if locked.hard_limit and locked.available < value:
        raise WalletExhausted(
            {"amount": f"{locked.name} has {locked.available} available, {value} asked"}
        )
    reservation = NEW.save(Reservation(
        organization_id=locked.organization_id,
        wallet=locked,
        request_id=request_id,
        amount=value,
        expires_at=expires_at,
    ))  # fmt: skip
    # Neither id is needed: inside chargeback.sql.pipeline() both travel with the commit.
    append(wallet=locked, type=EntryType.RESERVATION, pending=value, reason=request_id,
           reservation=reservation, actor=actor, wait=False)  # fmt: skip
    record(
        organization=locked.organization,
        actor=actor,
        action="wallet.reserved",
        obj=reservation,
        after={"wallet": locked.name, "amount": str(value), "request_id": request_id},
        wait=False,
    )
    return reservation


def _locked(reservation: Reservation) -> tuple[Wallet, Reservation]:
    (wallet,) = lock(reservation.wallet)
    fresh = Reservation.objects.select_for_update().get(pk=reservation.pk)
    return wallet, fresh


def settle(*, reservation: Reservation, actual: object, actor: Any) -> Settlement:
    """Post the actual cost, at most the reserved amount, and release the rest. Settling a
    posted reservation again returns its first result; a voided or expired one is an error."""
    if isinstance(actual, float):
        raise ValidationError({"actual_cost": "must be a decimal number, not a float"})
    try:
        cost = Decimal(str(actual))
    except ArithmeticError:
        raise ValidationError({"actual_cost": f'"{actual}" is not a number'}) from None
    if not cost.is_finite() or cost < 0:
        raise ValidationError({"actual_cost": "must be zero or more"})
    with transaction.atomic():
        wallet, r = _locked(reservation)
        if r.state == ReservationState.POSTED:
            return Settlement(r, r.settled_amount, r.released_amount)
        if r.state != ReservationState.PENDING:
            raise ReservationClosed({"reservation_id": f"the reservation is {r.state}"})
        posted = min(round_up(cost, wallet.currency), r.amount)
        released = r.amount - posted
        if posted:
            append(wallet=wallet, type=EntryType.SETTLEMENT, amount=-posted, pending=-posted,
                   reason=r.request_id, reservation=r, actor=actor)  # fmt: skip
        if released:
            append(wallet=wallet, type=EntryType.RELEASE, pending=-released,
                   reason=r.request_id, reservation=r, actor=actor)  # fmt: skip
        r.state, r.settled_amount, r.released_amount = ReservationState.POSTED, posted, released
        r.resolved_at = timezone.now()
        r.save(update_fields=["state", "settled_amount", "released_amount", "resolved_at"])
        record(
            organization=wallet.organization,
            actor=actor,
            action="wallet.settled",
            obj=r,
            after={"wallet": wallet.name, "posted": str(posted), "released": str(released)},
        )
    return Settlement(r, posted, released)


def void(*, reservation: Reservation, actor: Any) -> Reservation:
    """Release the whole hold. Voiding a voided reservation changes nothing; a posted or
    expired one is an error."""
    return _release(reservation, ReservationState.VOIDED, actor)


def _release(reservation: Reservation, state: str, actor: Any) -> Reservation:
    with transaction.atomic():
        wallet, r = _locked(reservation)
        if r.state == state:
            return r
        if r.state != ReservationState.PENDING:
            raise ReservationClosed({"reservation_id": f"the reservation is {r.state}"})
        append(wallet=wallet, type=EntryType.RELEASE, pending=-r.amount, reason=r.request_id,
               reservation=r, actor=actor)  # fmt: skip
        r.state, r.released_amount, r.resolved_at = state, r.amount, timezone.now()
        r.save(update_fields=["state", "released_amount", "resolved_at"])
        record(
            organization=wallet.organization,
            actor=actor,
            action=f"wallet.{state}",
            obj=r,
            after={"wallet": wallet.name, "released": str(r.amount)},
        )
    return r


def expire_reservations(
    *, organization: Organization, now: dt.datetime | None = None, actor: Any = "beat"
) -> int:
    """Release every pending reservation of the organisation past its expiry; the count."""
    now = now or timezone.now()
    due = Reservation.objects.filter(
        organization=organization, state=ReservationState.PENDING, expires_at__lte=now
    ).select_related("wallet")
    count = 0
    for r in due:
        try:
            _release(r, ReservationState.EXPIRED, actor)
        except ValidationError:  # settled or voided meanwhile: resolved once, by that call
            continue
        count += 1
    return count
