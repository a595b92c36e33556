"""Wallets on PostgreSQL: parallel reservations never overdraw a hard wallet (the row lock),
and ledger entries cannot be changed even through raw SQL (the trigger)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Sum
from django_scopes import scopes_disabled

from chargeback.tenancy.scoping import within
from chargeback.wallets.accounts import open_wallet
from chargeback.wallets.ledger import post_entry
from chargeback.wallets.models import LedgerEntry, Reservation, Wallet
from chargeback.wallets.reservations import WalletExhausted, reserve, settle
from tests import factories as f
from tests.integration.parallel import in_parallel

pytestmark = pytest.mark.integration

REQUESTS, COVERED, THREADS = 200, 50, 40


@pytest.fixture
def wallet(org_a):
    with scopes_disabled():
        unit = f.BusinessUnitFactory(organization=org_a, code="GW")
        wallet = open_wallet(organization=org_a, unit=unit, kind="team", actor="test")
    with within(org_a):
        post_entry(wallet=wallet, type="funding", amount="50.00", reason="t", actor="test")
    return wallet


@pytest.mark.django_db(transaction=True)
def test_200_parallel_reservations_against_50_give_exactly_50(org_a, wallet):
    def one(i: int) -> bool:
        try:
            with within(org_a):
                w = Wallet.objects.get(pk=wallet.pk)
                reserve(wallet=w, request_id=f"gw-{i}", amount="1.00", actor="gateway")
            return True
        except WalletExhausted:
            return False

    def overdrawn():
        with within(org_a):
            row = Wallet.objects.values_list("balance", "reserved").get(pk=wallet.pk)
        return row if row[1] > row[0] else None

    results, seen_over = in_parallel(one, REQUESTS, THREADS, watch=overdrawn)
    assert results.count(True) == COVERED
    assert seen_over == []
    with within(org_a):
        row = Wallet.objects.get(pk=wallet.pk)
        assert (row.balance, row.reserved, row.available) == (Decimal(50), Decimal(50), 0)
        assert Reservation.objects.filter(wallet=wallet).count() == COVERED
        sums = LedgerEntry.objects.filter(wallet=wallet).aggregate(
            a=Sum("amount"), p=Sum("pending")
        )
        assert (sums["a"], sums["p"]) == (Decimal(50), Decimal(50))
        # The same request id again: the same reservation, nothing new.
        first = Reservation.objects.get(request_id="gw-0") if results[0] else None
        if first is not None:
            again = reserve(wallet=row, request_id="gw-0", amount="1.00", actor="gateway")
            assert again.pk == first.pk
        # Settling in parallel twice each: posted once.
        pending = list(Reservation.objects.filter(wallet=wallet)[:10])

    def settle_twice(i: int) -> Decimal:
        with within(org_a):
            r = (pending + pending)[i]
            return settle(reservation=r, actual="0.40", actor="gateway").posted

    posted, _ = in_parallel(settle_twice, 20, 10)
    assert posted == [Decimal("0.40")] * 20
    with within(org_a):
        row = Wallet.objects.get(pk=wallet.pk)
        assert (row.balance, row.reserved) == (Decimal("46.00"), Decimal("40.00"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql", ["UPDATE wallets_ledgerentry SET amount = 1000", "DELETE FROM wallets_ledgerentry"]
)
def test_raw_sql_cannot_change_ledger_entries(org_a, wallet, sql):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    with within(org_a):
        assert LedgerEntry.objects.get(wallet=wallet).amount == Decimal(50)


@pytest.mark.django_db(transaction=True)
def test_one_request_id_sent_in_parallel_gives_one_reservation(org_a, wallet):
    with scopes_disabled():
        other_unit = f.BusinessUnitFactory(organization=org_a, code="GW2")
        other = open_wallet(organization=org_a, unit=other_unit, kind="team", actor="test")
    with within(org_a):
        post_entry(wallet=other, type="funding", amount="50.00", reason="t", actor="test")

    def one(i: int) -> object:
        try:
            with within(org_a):
                target = Wallet.objects.get(pk=(wallet if i % 2 else other).pk)
                return reserve(wallet=target, request_id="dup", amount="1", actor="gw").pk
        except ValidationError as exc:
            return exc.message_dict["request_id"][0]

    answers, _ = in_parallel(one, 20, 20)
    with within(org_a):
        (only,) = Reservation.objects.filter(request_id="dup")
        held = Wallet.objects.filter(pk__in=[wallet.pk, other.pk]).aggregate(s=Sum("reserved"))
    assert held["s"] == Decimal(1)
    assert set(answers) == {only.pk, "was used for another wallet"}
