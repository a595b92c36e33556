"""Gateway authorization on PostgreSQL: 200 parallel authorizations against a hard wallet that
covers exactly 50 of them give exactly 50 allows, the reserved sum never exceeds the balance,
and the same request id sent in parallel is one decision and one reservation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_scopes import scopes_disabled

from chargeback.gateway.decide import Request, authorize
from chargeback.gateway.models import Decision, Enforcement
from chargeback.tenancy.scoping import within
from chargeback.wallets.accounts import open_wallet
from chargeback.wallets.ledger import post_entry
from chargeback.wallets.models import Reservation, Wallet
from tests import factories as f
from tests.integration.parallel import in_parallel

pytestmark = pytest.mark.integration

REQUESTS, COVERED, THREADS = 200, 50, 40


@pytest.fixture
def wallet(org_a):
    with scopes_disabled():
        unit = f.BusinessUnitFactory(organization=org_a, code="GW")
        f.GatewayKeyFactory(organization=org_a, key_id="gk-gw", unit=unit)
        wallet = open_wallet(organization=org_a, unit=unit, kind="team", actor="test")
        Enforcement.objects.create(organization=org_a, mode="enforce")
    with within(org_a):
        post_entry(wallet=wallet, type="funding", amount="50.00", reason="t", actor="test")
    return wallet


def _authorize(org, request_id: str, key: str = "gk-gw") -> dict:
    with within(org):
        request = Request(gateway_key_id=key, request_id=request_id,
                          estimated_cost=Decimal("1.00"))  # fmt: skip
        return authorize(organization=org, request=request).as_json()


def _overdrawn(org, wallet):
    with within(org):
        row = Wallet.objects.values_list("balance", "reserved").get(pk=wallet.pk)
    return row if row[1] > row[0] else None


@pytest.mark.django_db(transaction=True)
def test_200_parallel_authorizations_against_50_give_exactly_50(org_a, wallet):
    answers, seen_over = in_parallel(
        lambda i: _authorize(org_a, f"req-{i}"), REQUESTS, THREADS,
        watch=lambda: _overdrawn(org_a, wallet),
    )  # fmt: skip
    decisions = [a["decision"] for a in answers]
    assert (decisions.count("allow"), decisions.count("deny")) == (COVERED, REQUESTS - COVERED)
    assert {a["reason"] for a in answers if a["decision"] == "deny"} == {"wallet_exhausted"}
    assert seen_over == []
    with within(org_a):
        row = Wallet.objects.get(pk=wallet.pk)
        assert (row.balance, row.reserved) == (Decimal(50), Decimal(50))
        assert Reservation.objects.filter(wallet=wallet).count() == COVERED
        assert Decision.objects.count() == REQUESTS


@pytest.mark.django_db(transaction=True)
def test_one_request_id_in_parallel_is_one_decision_and_one_reservation(org_a, wallet):
    answers, _ = in_parallel(lambda _i: _authorize(org_a, "dup"), 20, 20)
    assert all(a == answers[0] for a in answers) and answers[0]["decision"] == "allow"
    with within(org_a):
        assert Reservation.objects.count() == 1
        assert Decision.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_hard_budget_over_two_units_is_never_overshot_in_parallel(org_a):
    """A parent's hard budget of 20.00 counts its two child units: 100 parallel requests of
    1.00, alternating between them (each with a wallet that covers them all), give exactly
    20 allows."""
    from chargeback.budgets.setting import set_budget  # noqa: PLC0415 (this test only)

    with scopes_disabled():
        parent = f.BusinessUnitFactory(organization=org_a, code="PAR")
        Enforcement.objects.create(organization=org_a, mode="enforce")
        children = []
        for code in ("KA", "KB"):
            unit = f.BusinessUnitFactory(organization=org_a, code=code, parent=parent)
            f.GatewayKeyFactory(organization=org_a, key_id=f"gk-{code.lower()}", unit=unit)
            children.append(open_wallet(organization=org_a, unit=unit, kind="team", actor="t"))
    with within(org_a):
        for w in children:
            post_entry(wallet=w, type="funding", amount="500.00", reason="t", actor="test")
        set_budget(organization=org_a, unit=parent, amount="20.00", hard=True,
                   include_descendants=True, actor="test")  # fmt: skip
    answers, _ = in_parallel(
        lambda i: _authorize(org_a, f"b-{i}", key="gk-ka" if i % 2 else "gk-kb"), 100, THREADS
    )
    decisions = [a["decision"] for a in answers]
    assert (decisions.count("allow"), decisions.count("deny")) == (20, 80)
    assert {a["reason"] for a in answers if a["decision"] == "deny"} == {"budget_hard_limit"}
    with within(org_a):
        held = sum(Wallet.objects.get(pk=w.pk).reserved for w in children)
    assert held == Decimal("20.00")
