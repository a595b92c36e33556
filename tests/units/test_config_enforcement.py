"""The configuration file's `enforcement` section: gateway mode and approval threshold."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chargeback.audit.models import AuditEvent
from chargeback.gateway.models import Enforcement
from chargeback.provisioning.config import (
    ConfigError,
    apply_config,
    dump_config,
    export_config,
    parse_config,
    plan_config,
)
from chargeback.tenancy.scoping import within

SECTION = "enforcement: {mode: enforce, approval_above_input_per_1m: '2.5'}\n"


def test_the_section_is_applied_exported_and_a_fixed_point(org_a):
    with within(org_a):
        assert "enforcement" not in export_config(org_a)  # defaults are not written out
        plan = apply_config(org_a, parse_config(SECTION), actor="test")
        assert [str(c) for c in plan.changes] == ["enforcement: observe -> enforce; null -> 2.5"]
        row = Enforcement.objects.get(organization=org_a)
        assert (row.mode, row.approval_above_input_per_1m) == ("enforce", Decimal("2.5"))
        assert AuditEvent.objects.filter(action="gateway.enforcement_updated").count() == 1
        exported = export_config(org_a)
        assert exported["enforcement"] == {"mode": "enforce", "approval_above_input_per_1m": "2.5"}
        assert SECTION in dump_config(exported)
        assert plan_config(org_a, parse_config(dump_config(exported))).changes == []
        assert plan_config(org_a, parse_config(dump_config(exported, "json"))).changes == []
        apply_config(org_a, parse_config(dump_config(exported)), actor="test")
        assert AuditEvent.objects.filter(action="gateway.enforcement_updated").count() == 1


def test_a_key_left_out_takes_its_default(org_a):
    with within(org_a):
        apply_config(org_a, parse_config(SECTION), actor="test")
        apply_config(org_a, parse_config("enforcement: {mode: off}"), actor="test")
        row = Enforcement.objects.get(organization=org_a)
        assert (row.mode, row.approval_above_input_per_1m) == (
            "off",
            None,
        )  # bare off: YAML's false
        assert plan_config(org_a, parse_config(dump_config(export_config(org_a)))).changes == []
        apply_config(org_a, parse_config("enforcement: {}"), actor="test")
        assert "enforcement" not in export_config(org_a)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("enforcement: [1]", "enforcement: must be a mapping, not a list"),
        ("enforcement: {mode: strict}", "enforcement.mode: must be one of off, observe, enforce"),
        ("enforcement: {approval_above_input_per_1m: 2.5}", "not a number"),
        ("enforcement: {approval_above_input_per_1m: x}", '"x" is not a decimal price'),
        ("enforcement: {approval_above_input_per_1m: '-1'}", "zero or more"),
        ("enforcement: {approval_above_input_per_1m: '0.0000001'}", "at most 6 decimal places"),
        ("enforcement: {moe: off}", "enforcement.moe: unknown key"),
    ],
)
def test_bad_sections_name_the_key_and_change_nothing(org_a, text, error):
    with within(org_a):
        with pytest.raises(ConfigError) as caught:
            apply_config(org_a, parse_config(text), actor="test")
        assert any(error in e for e in caught.value.errors), caught.value.errors
        assert not Enforcement.objects.filter(organization=org_a).exists()
