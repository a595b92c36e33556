"""Policy versions: saving (audited, idempotent), the version in force for a month, validation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from chargeback.allocation.models import AllocationPolicy
from chargeback.allocation.policy import Policy
from chargeback.allocation.queries import policy_for
from chargeback.audit.models import AuditEvent
from chargeback.billing.policy_versions import save_policy
from chargeback.calendar import Period
from chargeback.tenancy.scoping import within


def test_versions_by_effective_month(org_a, org_b):
    with within(org_a):
        save_policy(organization=org_a, policy=Policy("2026-10", fee_percent=D("0.15")), actor="t")
        save_policy(organization=org_a, policy=Policy("2027-01", fee_percent=D("0.10")), actor="t")
    with within(org_b):
        save_policy(organization=org_b, policy=Policy("2026-01", fee_percent=D("0.99")), actor="t")
    with within(org_a):
        fees = [policy_for(org_a, Period.parse(m)).fee_percent for m in ("2026-09", "2026-10", "2026-12", "2027-01", "2027-06")]  # fmt: skip
        assert fees == [D(0), D("0.15"), D("0.15"), D("0.10"), D("0.10")]
        assert policy_for(org_a, Period.parse("2026-09")) == Policy()


def test_save_is_audited_and_idempotent(org_a):
    with within(org_a):
        policy = Policy("2026-10", fee_percent=D("0.15"))
        version = save_policy(organization=org_a, policy=policy, actor="cli")
        assert (version.effective_from, version.document["platform_fee"]["percent"]) == (
            dt.date(2026, 10, 1),
            "0.15",
        )
        save_policy(organization=org_a, policy=policy, actor="cli")
        save_policy(organization=org_a, policy=Policy("2026-10", fee_percent=D("0.2")), actor="cli")
        events = AuditEvent.objects.filter(
            organization=org_a, object_type="allocation.allocationpolicy"
        )
        assert [e.action for e in events.order_by("id")] == [
            "allocationpolicy.created",
            "allocationpolicy.updated",
        ]
        assert AllocationPolicy.objects.get(organization=org_a).policy.fee_percent == D("0.2")


def test_clean_refuses_invalid_documents(org_a):
    with within(org_a):
        version = AllocationPolicy(
            organization=org_a,
            effective_from=dt.date(2026, 10, 2),
            document={"tiers": [{"name": "A", "markup": "x"}]},
        )
        with pytest.raises(ValidationError) as exc:
            version.full_clean()
        assert exc.value.message_dict == {
            "effective_from": ["A policy takes effect on a month's first day."],
        }
        version.effective_from = dt.date(2026, 10, 1)
        with pytest.raises(ValidationError) as exc:
            version.full_clean()
        assert exc.value.message_dict == {
            "document": ['policy.tiers[0].markup: "x" is not a decimal']
        }
