"""`budgets` and `check_budgets` (DESIGN.md 6.3), and a budget in another currency refused."""

from __future__ import annotations

import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from chargeback.budgets.models import Budget
from chargeback.budgets.setting import set_budget
from chargeback.tenancy.scoping import within
from tests.budgets.conftest import make_budget


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_check_budgets_then_budgets_json(org_a, spending):
    make_budget(org_a, spending["sales"], amount="2500", hard=True)
    assert run("check_budgets", "--org", "alpha").splitlines() == [
        "alert SALES 50%", "alert SALES 80%", "alert SALES forecast"]  # fmt: skip
    assert run("check_budgets", "--org", "alpha").strip() == "no new alerts"
    report = json.loads(run("budgets", "--org", "alpha", "--format", "json"))
    assert report["period"] == "2026-10" and report["currency"] == "USD"
    (b,) = report["budgets"]
    assert {k: b[k] for k in ("unit", "amount", "spend", "forecast", "remaining", "fired", "hard")} == {
        "unit": "SALES", "amount": "2500.00", "spend": "2000.00", "forecast": "3100.00",
        "remaining": "500.00", "fired": [50, 80], "hard": True}  # fmt: skip
    assert b["run_out"] == "2026-10-25" and b["prior_month"] == "3000.00"
    table = run("budgets", "--org", "alpha", "--period", "2026-10")
    assert "SALES" in table and "50%, 80% (forecast)" in table
    september = json.loads(
        run("budgets", "--org", "alpha", "--period", "2026-09", "--format", "json")
    )
    assert september["budgets"][0]["spend"] == "3000.00" and september["budgets"][0]["fired"] == []


def test_a_budget_in_another_currency_is_refused(org_a, unit_tree, admin):
    with within(org_a):
        with pytest.raises(ValidationError) as exc:
            set_budget(organization=org_a, unit=unit_tree["sales"], amount="100",
                       currency="EUR", actor=admin.user)  # fmt: skip
        assert "currency" in exc.value.message_dict
        assert "not the organisation's currency (USD)" in exc.value.message_dict["currency"][0]
        with pytest.raises(ValidationError) as exc:
            set_budget(organization=org_a, unit=unit_tree["sales"], amount="-1", actor=admin.user)
        assert "amount" in exc.value.message_dict
        assert not Budget.objects.exists()
        budget, changed = set_budget(organization=org_a, unit=unit_tree["sales"], amount="100.00",
                                     actor=admin.user)  # fmt: skip
        assert changed and budget.thresholds == [50, 80, 100]
        assert set_budget(organization=org_a, unit=unit_tree["sales"], amount="100",
                          actor=admin.user)[1] is False  # fmt: skip
