"""Settle or release a gateway reservation by its id (DESIGN 6.4). The reservation is looked up
within the caller's organisation only: another organisation's id is as unknown as a missing one.
Settling again answers the first result; releasing a voided reservation again answers it too."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from chargeback.gateway.decide import ACTOR
from chargeback.money import quantize
from chargeback.tenancy.models import Organization
from chargeback.wallets.models import Reservation, ReservationState
from chargeback.wallets.reservations import ReservationClosed, settle, void


class UnknownReservation(LookupError):
    """No such reservation in the organisation (or it can no longer be settled)."""


@dataclass(frozen=True)
class Result:
    reservation_id: int
    state: str
    posted: Decimal
    released: Decimal
    currency: str

    def as_json(self) -> dict:
        return {
            "reservation_id": self.reservation_id,
            "state": self.state,
            "posted": str(quantize(self.posted, self.currency)),
            "released": str(quantize(self.released, self.currency)),
        }


def _find(organization: Organization, reservation_id: int) -> Reservation:
    r = (
        Reservation.objects.filter(organization=organization, pk=reservation_id)
        .select_related("wallet")
        .first()
    )
    if r is None:
        raise UnknownReservation(reservation_id)
    return r


def settle_reservation(
    *, organization: Organization, reservation_id: int, actual_cost: object
) -> Result:
    """Post the actual cost (at most the reserved amount) and release the rest. A voided or
    expired reservation cannot be settled: UnknownReservation, as for a missing one."""
    r = _find(organization, reservation_id)
    if r.state in (ReservationState.VOIDED, ReservationState.EXPIRED):
        raise UnknownReservation(reservation_id)
    try:
        done = settle(reservation=r, actual=actual_cost, actor=ACTOR)
    except ReservationClosed:  # voided or expired meanwhile
        raise UnknownReservation(reservation_id) from None
    return Result(r.pk, done.reservation.state, done.posted, done.released, r.wallet.currency)


def release_reservation(*, organization: Organization, reservation_id: int) -> Result:
    """Void the reservation: its whole amount is released. A posted or expired one cannot be
    voided: ReservationClosed (the caller answers 409)."""
    r = void(reservation=_find(organization, reservation_id), actor=ACTOR)
    return Result(r.pk, r.state, Decimal(0), r.released_amount or Decimal(0), r.wallet.currency)
