"""The seeded demo has budgets whose alerts fire on the seeded spend."""

from __future__ import annotations

import io

from django.core.management import call_command

from chargeback.budgets.models import Alert, Budget
from chargeback.tenancy.models import Organization
from chargeback.tenancy.scoping import within


def test_seed_demo_sets_budgets_and_alerts_fire(db, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=io.StringIO())
    org = Organization.objects.get(slug="acme")
    with within(org):
        assert set(Budget.objects.values_list("unit__code", flat=True)) == {
            "SUP", "PROD", "AGENTS", "SEARCH"}  # fmt: skip
        fired = set(Alert.objects.values_list("unit__code", "kind", "threshold"))
    assert {("SUP", "threshold", 50), ("SUP", "threshold", 80)} <= fired
    assert ("AGENTS", "threshold", 100) in fired
    assert not any(code == "SEARCH" for code, _k, _t in fired)
    assert mailoutbox and any("finance@acme.example" in m.to for m in mailoutbox)
    out = io.StringIO()
    call_command("check_budgets", "--org", "acme", stdout=out)
    assert out.getvalue().strip() == "no new alerts"
