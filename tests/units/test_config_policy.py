"""The configuration file's `policy` section: apply, export, round trip and errors."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from chargeback.allocation.models import AllocationPolicy
from chargeback.allocation.queries import policy_for
from chargeback.calendar import Period
from chargeback.provisioning.config import (
    ConfigError,
    apply_config,
    dump_config,
    export_config,
    parse_config,
    plan_config,
)
from chargeback.tenancy.scoping import within

FILE = """
units:
  - {code: SUP, name: Support, parent: null, owner: ana@example.com, billing_mode: chargeback}
services:
  - {name: evals, unit: SUP}
policy:
  effective_from: "2026-10"
  tiers:
    - {name: Experimental, up_to_tokens: 10000000, markup: "0.50"}
    - {name: Standard, up_to_tokens: 100000000, markup: "0.20"}
    - {name: Enterprise, up_to_tokens: null, markup: "0.10"}
  platform_fee: {percent: "0.15", fixed_per_unit: "0.00"}
  pools:
    - {name: Gateway infrastructure, source: manual, amount: "1200.00", basis: spend, targets: all}
    - {name: Evals, source: "service:evals", basis: requests, targets: [SUP]}
  activity_rates:
    - {unit: SUP, outcome: resolved_ticket, rate: "0.50"}
"""


def test_apply_export_round_trip(org_a, admin):
    with within(org_a):
        plan = apply_config(org_a, parse_config(FILE), actor=admin.user)
        assert plan.lines[-1] == (
            "policy: create 2026-10 (platform_fee \"{percent: '0.15', fixed_per_unit: '0.00'}\", "
            "pools \"[{name: Gateway infrastructure, source: manual, amount: '1200.00', basis: spend, "
            "targets: all}, {name: Evals, source: 'service:evals', basis: requests, targets: [SUP]}]\", "
            "activity_rates \"[{unit: SUP, outcome: resolved_ticket, rate: '0.50'}]\")"
        )
        policy = policy_for(org_a, Period.parse("2026-11"))
        assert (policy.fee_percent, policy.pools[1].targets) == (D("0.15"), ("SUP",))
        exported = export_config(org_a)
        assert exported["policy"]["effective_from"] == "2026-10"
        text = dump_config(exported)
        assert "  - {name: Experimental, up_to_tokens: 10000000, markup: '0.50'}" in text
        for fmt in ("yaml", "json"):
            again = plan_config(org_a, parse_config(dump_config(exported, fmt)))
            assert (again.errors, again.changes) == ([], [])
        assert apply_config(org_a, parse_config(FILE), actor=admin.user).changes == []


def test_update_and_later_versions(org_a, admin):
    with within(org_a):
        apply_config(org_a, parse_config(FILE), actor=admin.user)
        changed = FILE.replace('percent: "0.15"', 'percent: "0.2"')
        plan = apply_config(org_a, parse_config(changed), actor=admin.user)
        assert plan.lines == [
            "policy: update 2026-10: platform_fee \"{percent: '0.15', fixed_per_unit: '0.00'}\" -> "
            "\"{percent: '0.2', fixed_per_unit: '0.00'}\""
        ]
        versions = {
            "policy": [
                {"effective_from": "2026-10", "platform_fee": {"percent": "0.2"}},
                {"effective_from": "2027-01", "tier_mode": "graduated"},
            ]
        }
        plan = apply_config(org_a, versions, actor=admin.user)
        assert [str(c) for c in plan.changes][-1] == "policy: create 2027-01 (tier_mode graduated)"
        assert AllocationPolicy.objects.filter(organization=org_a).count() == 2
        assert [p["effective_from"] for p in export_config(org_a)["policy"]] == [
            "2026-10",
            "2027-01",
        ]


def test_errors_with_paths_change_nothing(org_a, admin):
    with within(org_a):
        bad = FILE.replace('markup: "0.20"', 'markup: "abc"').replace(
            "targets: [SUP]", "targets: [SUP, NOPE]"
        )
        with pytest.raises(ConfigError) as exc:
            apply_config(org_a, parse_config(bad), actor=admin.user)
        assert exc.value.errors == [
            'policy.tiers[1].markup: "abc" is not a decimal',
            'policy.pools[1].targets[1]: unknown unit "NOPE"',
        ]
        assert AllocationPolicy.objects.count() == 0
        with pytest.raises(ConfigError) as exc:
            apply_config(
                org_a,
                parse_config(FILE.replace('"service:evals"', '"service:nothing"')),
                actor=admin.user,
            )
        assert exc.value.errors == ['policy.pools[1].source: unknown service "nothing"']
        twice = {"policy": [{"effective_from": "2026-10"}, {"effective_from": "2026-10"}]}
        assert plan_config(org_a, twice).errors == [
            "policy[1].effective_from: a second policy for 2026-10 in the file"
        ]
        assert plan_config(org_a, {"policy": {}}).errors == [
            'policy.effective_from: required, a month such as "2026-10"'
        ]


def test_the_plan_refuses_a_version_for_an_issued_month(org_a, admin):
    with within(org_a):
        from chargeback.billing.models import BillingPeriod

        BillingPeriod.objects.create(organization=org_a, month="2026-10-01", state="in_review")
        plan = plan_config(org_a, parse_config(FILE))
        assert [e for e in plan.errors if e.startswith("policy.effective_from")] == [
            "policy.effective_from: Statements for 2026-10 are already issued, so the policy in "
            "force from 2026-10 can no longer change: make a new version from 2026-11 (the next "
            "open month) instead."
        ]
        later = FILE.replace('effective_from: "2026-10"', 'effective_from: "2026-11"')
        assert not [e for e in plan_config(org_a, parse_config(later)).errors if "policy" in e]
