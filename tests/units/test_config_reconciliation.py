"""The configuration file's `reconciliation` section: the organisation's thresholds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chargeback.audit.models import AuditEvent
from chargeback.provisioning.config import (
    ConfigError,
    apply_config,
    dump_config,
    export_config,
    parse_config,
    plan_config,
)
from chargeback.reconciliation.thresholds import DEFAULTS, Thresholds, thresholds_of
from chargeback.tenancy.scoping import within

SECTION = (
    'reconciliation: {variance_threshold_pct: "1.5", attributable_threshold_pct: "90", '
    "require_named_owners: false, absorb_grace_months: 3}\n"
)


def test_the_section_is_applied_exported_and_a_fixed_point(org_a):
    with within(org_a):
        assert "reconciliation" not in export_config(org_a)  # defaults are not written out
        plan = apply_config(org_a, parse_config(SECTION), actor="test")
        assert len(plan.changes) == 1 and plan.changes[0].section == "reconciliation"
        assert thresholds_of(org_a) == Thresholds(Decimal("1.5"), Decimal(90), False, 3)
        event = AuditEvent.objects.get(
            organization=org_a, action="reconciliation.thresholds_updated"
        )
        assert event.before["variance_threshold_pct"] == "2"
        assert event.after["variance_threshold_pct"] == "1.5"
        exported = export_config(org_a)
        assert exported["reconciliation"] == {
            "variance_threshold_pct": "1.5",
            "attributable_threshold_pct": "90",
            "require_named_owners": False,
            "absorb_grace_months": 3,
        }
        text = dump_config(exported)
        assert SECTION.replace('"', "'") in text
        assert plan_config(org_a, parse_config(text)).changes == []
        assert plan_config(org_a, parse_config(dump_config(exported, "json"))).changes == []
        apply_config(org_a, parse_config(text), actor="test")  # a fixed point: no new event
        assert AuditEvent.objects.filter(action="reconciliation.thresholds_updated").count() == 1


def test_a_key_left_out_takes_its_default(org_a):
    with within(org_a):
        apply_config(org_a, parse_config(SECTION), actor="test")
        apply_config(org_a, parse_config("reconciliation: {absorb_grace_months: 3}"), actor="t")
        assert thresholds_of(org_a) == Thresholds(absorb_grace_months=3)
        apply_config(org_a, parse_config("reconciliation: {}"), actor="test")
        assert thresholds_of(org_a) == DEFAULTS
        assert "reconciliation" not in export_config(org_a)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("reconciliation: [1]", "reconciliation: must be a mapping, not a list"),
        ("reconciliation: {variance_threshold_pct: 2.5}", "a float is refused"),
        ('reconciliation: {variance_threshold_pct: "101"}', "not between 0 and 100"),
        ('reconciliation: {attributable_threshold_pct: "x"}', '"x" is not a percent'),
        ("reconciliation: {require_named_owners: 1}", "must be true or false"),
        ("reconciliation: {absorb_grace_months: 0}", "1 to 36"),
        ("reconciliation: {grace: 2}", "reconciliation.grace: unknown key"),
    ],
)
def test_bad_sections_name_the_key_and_change_nothing(org_a, text, error):
    with within(org_a):
        with pytest.raises(ConfigError) as caught:
            apply_config(org_a, parse_config(text), actor="test")
        assert any(error in e for e in caught.value.errors), caught.value.errors
        assert thresholds_of(org_a) == DEFAULTS
