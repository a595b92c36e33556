"""Hypothesis stateful test: under random sequences of fund, transfer, reserve, settle, void
and expire, the ledger always balances: each transfer sums to zero, a wallet's balance is the
sum of its entries (and its cached balance equals it), reserved is the sum of the open
reservations, available = balance - reserved, and a hard wallet never goes below zero."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from chargeback.money import quantize
from chargeback.tenancy.scoping import within
from chargeback.wallets.accounts import open_wallet
from chargeback.wallets.ledger import post_entry, transfer
from chargeback.wallets.models import LedgerEntry, Reservation, ReservationState, Wallet
from chargeback.wallets.reservations import WalletExhausted, expire_reservations, reserve, settle
from chargeback.wallets.reservations import void as void_reservation
from tests import factories as f

D = Decimal
AMOUNTS = st.decimals(min_value=D("0.01"), max_value=D("500"), places=2)
WALLETS = st.sampled_from(["A", "B", "central"])
COUNTER = itertools.count()


def cents(value) -> Decimal:
    return quantize(value or D(0), "USD")


class Ledger(RuleBasedStateMachine):
    reservations = Bundle("reservations")

    def __init__(self) -> None:
        super().__init__()
        n = next(COUNTER)
        with scopes_disabled():
            self.org = f.OrganizationFactory(slug=f"prop-{n}")
            self.w = {
                code: open_wallet(
                    organization=self.org,
                    unit=f.BusinessUnitFactory(organization=self.org, code=code),
                    kind="team",
                    actor="t",
                )
                for code in ("A", "B")
            }
            self.w["central"] = open_wallet(
                organization=self.org, unit=None, kind="central", hard_limit=False, actor="t"
            )
        self.balance = {k: D(0) for k in self.w}
        self.open: dict[int, tuple[str, Decimal]] = {}
        self.ids = itertools.count()

    @rule(name=WALLETS, amount=AMOUNTS)
    def fund(self, name, amount):
        with within(self.org):
            post_entry(wallet=self.w[name], type="top_up", amount=amount, reason="p", actor="t")
        self.balance[name] += amount

    @rule(src=WALLETS, dst=WALLETS, amount=AMOUNTS)
    def move(self, src, dst, amount):
        source = self.w[src]
        covered = not source.hard_limit or self.available(src) >= amount
        with within(self.org):
            if src == dst or not covered:
                with pytest.raises(ValidationError):
                    transfer(source=source, target=self.w[dst], amount=amount, reason="p",
                             actor="t")  # fmt: skip
                return
            transfer(source=source, target=self.w[dst], amount=amount, reason="p", actor="t")
        self.balance[src] -= amount
        self.balance[dst] += amount

    @rule(target=reservations, name=WALLETS, amount=AMOUNTS, expired=st.booleans())
    def hold(self, name, amount, expired):
        wallet = self.w[name]
        shift = dt.timedelta(hours=-1 if expired else 1)
        with within(self.org):
            try:
                r = reserve(wallet=wallet, request_id=f"r{next(self.ids)}", amount=amount,
                            actor="t", now=timezone.now() + shift - dt.timedelta(minutes=15))  # fmt: skip
            except WalletExhausted:
                assert wallet.hard_limit and self.available(name) < amount
                return None
        self.open[r.pk] = (name, amount)
        return r.pk

    @rule(pk=consumes(reservations), actual=AMOUNTS)
    def settle(self, pk, actual):
        if pk is None:
            return
        with within(self.org):
            r = Reservation.objects.get(pk=pk)
            if pk not in self.open:
                with pytest.raises(ValidationError):
                    settle(reservation=r, actual=actual, actor="t")
                return
            result = settle(reservation=r, actual=actual, actor="t")
        name, amount = self.open.pop(pk)
        assert result.posted == min(actual, amount) and result.posted + result.released == amount
        self.balance[name] -= result.posted

    @rule(pk=consumes(reservations))
    def void(self, pk):
        if pk is None or pk not in self.open:
            return
        with within(self.org):
            void_reservation(reservation=Reservation.objects.get(pk=pk), actor="t")
        self.open.pop(pk)

    @rule()
    def expire(self):
        with within(self.org):
            expire_reservations(organization=self.org)
            pending = set(
                Reservation.objects.filter(
                    organization=self.org, state=ReservationState.PENDING
                ).values_list("pk", flat=True)
            )
        self.open = {pk: v for pk, v in self.open.items() if pk in pending}

    def available(self, name):
        held = sum((a for n, a in self.open.values() if n == name), D(0))
        return self.balance[name] - held

    @invariant()
    def the_ledger_balances(self):
        with within(self.org):
            for name, wallet in self.w.items():
                row = Wallet.objects.get(pk=wallet.pk)
                sums = LedgerEntry.objects.filter(wallet=wallet).aggregate(
                    a=Sum("amount"), p=Sum("pending")
                )
                held = sum((a for n, a in self.open.values() if n == name), D(0))
                # (SQLite sums decimals as floats: quantize; PostgreSQL's sums are exact.)
                assert row.balance == cents(sums["a"]) == self.balance[name]
                assert row.reserved == cents(sums["p"]) == held
                assert row.available == row.balance - row.reserved
                if row.hard_limit:
                    assert row.balance >= 0 and row.available >= 0
            transfers = LedgerEntry.objects.filter(organization=self.org, type="transfer")
            by_pair: dict = {}
            for e in transfers:
                by_pair[e.transfer] = by_pair.get(e.transfer, D(0)) + cents(e.amount)
            assert all(total == 0 for total in by_pair.values())
            open_sum = Reservation.objects.filter(
                organization=self.org, state=ReservationState.PENDING
            ).aggregate(s=Sum("amount"))["s"] or D(0)
            assert cents(open_sum) == sum((a for _n, a in self.open.values()), D(0))


def test_the_ledger_always_balances(db):
    run_state_machine_as_test(
        Ledger,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
