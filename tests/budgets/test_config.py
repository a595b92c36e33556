"""The configuration file's `budgets` section: applied, idempotent, exported, bad input named."""

from __future__ import annotations

from decimal import Decimal

import pytest
import yaml

from chargeback.budgets.models import Budget
from chargeback.provisioning.config import ConfigError, apply_config, dump_config, export_config
from chargeback.tenancy.scoping import within

FILE = """\
budgets:
  - {unit: SALES, monthly: "4000.00", thresholds: [50, 80, 100], hard: false, include_descendants: true}
  - {unit: SUPPORT, monthly: "250.5", thresholds: [90], hard: true, include_descendants: false}
"""


def test_apply_twice_changes_nothing_and_export_round_trips(org_a, unit_tree, admin):
    with within(org_a):
        plan = apply_config(org_a, yaml.safe_load(FILE), actor=admin.user)
        assert [str(c).split(" (")[0] for c in plan.changes] == [
            "budgets: create SALES", "budgets: create SUPPORT"]  # fmt: skip
        assert apply_config(org_a, yaml.safe_load(FILE), actor=admin.user).changes == []
        support = Budget.objects.get(unit__code="SUPPORT")
        assert support.amount == Decimal("250.5") and support.hard and support.thresholds == [90]
        assert support.currency == "USD" and not support.include_descendants
        exported = export_config(org_a)
        assert exported["budgets"][1] == {"unit": "SUPPORT", "monthly": "250.50",
            "thresholds": [90], "hard": True, "include_descendants": False}  # fmt: skip
        text = dump_config(exported)
        assert (
            '- {unit: SALES, monthly: "4000.00"' in text
            or "- {unit: SALES, monthly: '4000.00'" in text
        )
        assert apply_config(org_a, yaml.safe_load(text), actor=admin.user).changes == []


def test_bad_budgets_are_named_and_nothing_is_written(org_a, unit_tree, admin):
    bad = {
        "budgets": [
            {"unit": "SALES", "monthly": "100", "currency": "EUR"},
            {"unit": "NOPE", "monthly": "abc", "thresholds": [0, "x"], "hard": "yes"},
            {"unit": "SUPPORT", "monthly": 10.5, "colour": "red"},
        ]
    }
    with within(org_a):
        with pytest.raises(ConfigError) as exc:
            apply_config(org_a, bad, actor=admin.user)
        assert not Budget.objects.exists()
    errors = exc.value.errors
    assert (
        'budgets[0].currency: "EUR" is not the organisation\'s currency (USD); budgets are in '
        "the organisation's currency"
    ) in errors
    assert 'budgets[1].unit: unknown code "NOPE"' in errors
    assert 'budgets[1].monthly: "abc" is not a decimal amount' in errors
    assert "budgets[1].thresholds: 0 is not a whole percent between 1 and 1000" in errors
    assert "budgets[1].hard: must be true or false" in errors
    assert "budgets[2].monthly: 10.5: write amounts as quoted strings, not floats" in errors
    assert any(e.startswith("budgets[2].colour: unknown key") for e in errors)
