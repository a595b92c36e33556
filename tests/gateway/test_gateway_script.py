"""A gateway as a script would run it: authorize, call the model, settle (and report the usage
so the budget sees it), in a loop until the hard limit denies."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.utils import timezone

from chargeback.budgets.setting import set_budget
from chargeback.gateway.models import Decision
from chargeback.tenancy.scoping import within
from chargeback.usage.ingest import process_batch
from chargeback.wallets.models import LedgerEntry, Reservation, Wallet

pytestmark = pytest.mark.django_db


def run(call, *, estimate: str, actual: str, limit: int = 100) -> tuple[int, dict]:
    """Authorize and settle until a deny; (requests allowed, the deny)."""
    for i in range(limit):
        status, answer = call("authorize", {"gateway_key_id": "gk-sup", "request_id": f"req-{i}",
                                            "estimated_cost": estimate})  # fmt: skip
        assert status == 200
        if answer["decision"] == "deny":
            return i, answer
        status, done = call("settle", {"reservation_id": answer["reservation_id"],
                                       "actual_cost": actual})  # fmt: skip
        assert (status, done["state"]) == (200, "posted")
    raise AssertionError("never denied")


def test_the_hard_wallet_denies_when_the_money_is_spent(call, gw):
    # 10.00 funded; each request holds 1.50 and costs 1.20: the 9th finds 0.40 available
    allowed, deny = run(call, estimate="1.50", actual="1.20")
    assert (allowed, deny["reason"], deny["wallet_available"]) == (8, "wallet_exhausted", "0.40")
    _, last = call("authorize", {"gateway_key_id": "gk-sup", "request_id": "last",
                                 "estimated_cost": "0.40"})  # fmt: skip
    assert (last["decision"], last["wallet_available"]) == ("allow", "0.00")
    with within(gw["org"]):
        w = Wallet.objects.get(pk=gw["wallet"].pk)
        assert (w.balance, w.reserved) == (Decimal("0.40"), Decimal("0.40"))
        assert Reservation.objects.filter(state="posted").count() == 8
        assert Decision.objects.filter(allowed=False).count() == 1
        entries = LedgerEntry.objects.filter(wallet=w)
        assert sum(e.amount for e in entries) == w.balance


def test_the_hard_budget_denies_once_the_reported_spend_reaches_it(call, client, gw):
    with within(gw["org"]):
        set_budget(organization=gw["org"], unit=gw["unit"], amount="0.05", hard=True, actor="t")
    answers = []
    for i in range(50):
        _, answer = call("authorize", {"gateway_key_id": "gk-sup", "request_id": f"r{i}",
                                       "provider": "openai", "model": "gpt-4o",
                                       "input_tokens": 2000, "max_output_tokens": 500})  # fmt: skip
        answers.append(answer)
        if answer["decision"] == "deny":
            break
        # the model answered with 300 output tokens: settle, and report the usage event
        call("settle", {"reservation_id": answer["reservation_id"], "actual_cost": "0.008"})
        event = {"request_id": f"r{i}", "occurred_at": timezone.now().isoformat(),
                 "provider": "openai", "model": "gpt-4o", "input_tokens": 2000,
                 "output_tokens": 300, "gateway_key_id": "gk-sup",
                 "tags": {"team": "SUP", "service": "bot", "cost_center": "SUP"}}  # fmt: skip
        response = client.post("/api/v1/usage-events", json.dumps([event]),
                               content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {gw['secret']}")  # fmt: skip
        assert response.status_code == 202
        # tests run inside a transaction: the on-commit task is run here, as the worker would
        assert process_batch(response.json()["batch_id"]).accepted == 1
    # each request holds 0.01 (2000 x 2.50 + 500 x 10.00 per 1M) and costs 0.008:
    # after 5 reported requests 0.04 is spent, 0.01 left; the 7th would pass 0.05
    assert [a["decision"] for a in answers] == ["allow"] * 6 + ["deny"]
    assert answers[-1]["reason"] == "budget_hard_limit"
