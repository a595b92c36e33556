"""Two-phase spending (wallets/reservations.py): reserve, settle, void, expire."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from chargeback.tenancy.scoping import within
from chargeback.wallets.ledger import post_entry
from chargeback.wallets.models import LedgerEntry, Reservation, Wallet
from chargeback.wallets.reservations import (
    WalletExhausted,
    expire_reservations,
    reserve,
    settle,
    void,
)
from chargeback.wallets.tasks import expire_sweep

D = Decimal


@pytest.fixture
def funded(org_a, team):
    with within(org_a):
        post_entry(wallet=team, type="funding", amount="10.00", reason="t", actor="t")
    return team


def fresh(wallet):
    return Wallet.objects.get(pk=wallet.pk)


def test_a_reservation_holds_money_without_moving_the_balance(org_a, funded):
    with within(org_a):
        r = reserve(wallet=funded, request_id="req-1", amount="2.001", actor="gw")
        assert r.amount == D("2.01")  # rounded up: a hold never falls short
        w = fresh(funded)
        assert (w.balance, w.reserved, w.available) == (D("10.00"), D("2.01"), D("7.99"))
        assert reserve(wallet=funded, request_id="req-1", amount="9", actor="gw").pk == r.pk
        assert Reservation.objects.count() == 1


def test_a_hard_wallet_refuses_what_it_cannot_cover_and_writes_nothing(org_a, funded):
    with within(org_a):
        reserve(wallet=funded, request_id="a", amount="6", actor="gw")
        with pytest.raises(WalletExhausted) as exc:
            reserve(wallet=funded, request_id="b", amount="4.01", actor="gw")
        assert exc.value.reason == "wallet_exhausted" and "amount" in exc.value.message_dict
        assert Reservation.objects.count() == 1
        reserve(wallet=funded, request_id="c", amount="4.00", actor="gw")
        assert fresh(funded).available == 0


def test_a_soft_wallet_holds_beyond_its_balance(org_a, central):
    with within(org_a):
        reserve(wallet=central, request_id="a", amount="5", actor="gw")
        assert fresh(central).available == D("-5.00")


def test_settle_posts_at_most_the_reservation_and_releases_the_rest_once(org_a, funded):
    with within(org_a):
        r = reserve(wallet=funded, request_id="a", amount="3", actor="gw")
        result = settle(reservation=r, actual="1.25", actor="gw")
        assert (result.posted, result.released) == (D("1.25"), D("1.75"))
        w = fresh(funded)
        assert (w.balance, w.reserved) == (D("8.75"), D("0"))
        again = settle(reservation=r, actual="2.50", actor="gw")
        assert (again.posted, again.released) == (D("1.25"), D("1.75"))
        assert LedgerEntry.objects.filter(reservation=r).count() == 3
        r2 = reserve(wallet=funded, request_id="b", amount="1", actor="gw")
        over = settle(reservation=r2, actual="7", actor="gw")
        assert (over.posted, over.released) == (D("1.00"), D("0"))


def test_void_releases_and_a_voided_reservation_cannot_be_settled(org_a, funded):
    with within(org_a):
        r = reserve(wallet=funded, request_id="a", amount="3", actor="gw")
        void(reservation=r, actor="gw")
        void(reservation=r, actor="gw")  # once
        assert fresh(funded).reserved == 0
        with pytest.raises(ValidationError) as exc:
            settle(reservation=r, actual="1", actor="gw")
        assert "reservation_id" in exc.value.message_dict
        assert LedgerEntry.objects.filter(reservation=r).count() == 2


def test_settle_refuses_a_negative_or_unreadable_cost(org_a, funded):
    with within(org_a):
        r = reserve(wallet=funded, request_id="a", amount="3", actor="gw")
        for bad in ("-1", "x", 1.0):
            with pytest.raises(ValidationError) as exc:
                settle(reservation=r, actual=bad, actor="gw")
            assert "actual_cost" in exc.value.message_dict


def test_a_foreign_reservation_is_not_found(org_a, org_b, foreign):
    with within(org_b):
        post_entry(wallet=foreign, type="funding", amount="10", reason="t", actor="t")
        theirs = reserve(wallet=foreign, request_id="a", amount="1", actor="gw")
    with within(org_a), pytest.raises(Reservation.DoesNotExist):
        Reservation.objects.get(organization=org_a, pk=theirs.pk)


def test_expiry_releases_pending_reservations_past_their_time(org_a, funded):
    with within(org_a):
        old = reserve(wallet=funded, request_id="a", amount="3", actor="gw",
                      now=timezone.now() - dt.timedelta(hours=1))  # fmt: skip
        new = reserve(wallet=funded, request_id="b", amount="2", actor="gw")
        assert expire_reservations(organization=org_a) == 1
        assert expire_reservations(organization=org_a) == 0
        assert Reservation.objects.get(pk=old.pk).state == "expired"
        assert Reservation.objects.get(pk=new.pk).state == "pending"
        assert fresh(funded).reserved == D("2.00")
        with pytest.raises(ValidationError):
            settle(reservation=old, actual="1", actor="gw")


def test_the_beat_sweeper_expires_through_the_org_task(org_a, funded):
    with within(org_a):
        reserve(wallet=funded, request_id="a", amount="3", actor="gw",
                now=timezone.now() - dt.timedelta(hours=1))  # fmt: skip
    assert expire_sweep.delay().get() == [funded.pk]
    with within(org_a):
        assert fresh(funded).reserved == 0
    assert expire_sweep.delay().get() == []
