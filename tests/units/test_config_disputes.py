"""The configuration file's `disputes` section: the dispute calendar of the organisation."""

from __future__ import annotations

import datetime as dt

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
from chargeback.tenancy.scoping import within

SECTION = 'disputes: {review_days: 7, response_days: 3, closure_days: ["2026-12-24"]}\n'


def test_the_section_is_applied_exported_and_a_fixed_point(org_a):
    with within(org_a):
        assert "disputes" not in export_config(org_a)  # defaults are not written out
        plan = apply_config(org_a, parse_config(SECTION), actor="test")
        assert [str(c) for c in plan.changes] == [
            "disputes: 5 -> 7; 5 -> 3; [] -> [2026-12-24]"
        ] or len(plan.changes) == 1
        org_a.refresh_from_db()
        assert (org_a.dispute_review_days, org_a.dispute_response_days) == (7, 3)
        assert org_a.closure_days == ["2026-12-24"]
        assert org_a.calendar.closures == frozenset({dt.date(2026, 12, 24)})
        assert AuditEvent.objects.filter(organization=org_a, action="organization.updated").exists()
        exported = export_config(org_a)
        assert exported["disputes"] == {
            "review_days": 7,
            "response_days": 3,
            "closure_days": ["2026-12-24"],
        }
        assert SECTION.replace('"', "'") in dump_config(exported)
        assert plan_config(org_a, parse_config(dump_config(exported))).changes == []


def test_a_key_left_out_takes_its_default(org_a):
    with within(org_a):
        apply_config(org_a, parse_config(SECTION), actor="test")
        apply_config(org_a, parse_config("disputes: {review_days: 7}"), actor="test")
        org_a.refresh_from_db()
        assert (org_a.dispute_response_days, org_a.closure_days) == (5, [])


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("disputes: [1]", "disputes: must be a mapping, not a list"),
        ("disputes: {review_days: 0}", "disputes.review_days: must be a whole number"),
        ("disputes: {response_days: x}", "disputes.response_days: must be a whole number"),
        ("disputes: {closure_days: [2026-13-01]}", "cannot read this value"),
        (
            'disputes: {closure_days: ["24.12."]}',
            'disputes.closure_days[0]: "24.12." is not a date',
        ),
        ("disputes: {review: 5}", "disputes.review: unknown key"),
    ],
)
def test_bad_sections_name_the_key_and_change_nothing(org_a, text, error):
    with within(org_a):
        with pytest.raises(ConfigError) as caught:
            apply_config(org_a, parse_config(text), actor="test")
        assert any(error in e for e in caught.value.errors), caught.value.errors
        org_a.refresh_from_db()
        assert org_a.dispute_review_days == 5


def test_the_absorb_policy_is_applied_exported_and_a_fixed_point(org_a):
    text = 'disputes: {absorb_policy: "Central IT absorbs it; the key is revoked"}\n'
    with within(org_a):
        assert org_a.dispute_absorb_policy == (
            "the platform absorbs it once, then the gateway enforces tags"
        )
        apply_config(org_a, parse_config(text), actor="test")
        org_a.refresh_from_db()
        assert org_a.dispute_absorb_policy == "Central IT absorbs it; the key is revoked"
        exported = export_config(org_a)
        assert exported["disputes"]["absorb_policy"] == org_a.dispute_absorb_policy
        assert plan_config(org_a, parse_config(dump_config(exported))).changes == []
        apply_config(org_a, parse_config("disputes: {review_days: 5}"), actor="test")
        org_a.refresh_from_db()  # left out: the default wording again
        assert "disputes" not in export_config(org_a)


@pytest.mark.parametrize("value", ['""', "[1]", "x" * 301])
def test_a_bad_absorb_policy_is_refused(org_a, value):
    with within(org_a):
        with pytest.raises(ConfigError) as caught:
            apply_config(org_a, parse_config(f"disputes: {{absorb_policy: {value}}}"), actor="t")
        assert any("disputes.absorb_policy: must be a text" in e for e in caught.value.errors)
