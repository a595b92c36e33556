"""The ways into an organisation's scope (tenancy/scoping.py), with scopes enabled as in
production: outside them a tenant query raises; inside, it sees one organisation only."""

import ast
from pathlib import Path

import pytest
from django_scopes.exceptions import ScopeError

import chargeback
from chargeback.billing.tasks import render_statement_pdf
from chargeback.celery import app as celery_app
from chargeback.tenancy.scoping import GONE, org_of, org_task, scope_of, within
from chargeback.units.models import BusinessUnit


def test_a_tenant_query_outside_any_scope_raises(org_a):
    with pytest.raises(ScopeError):
        list(BusinessUnit.objects.all())


def test_within_sees_only_its_organisation(org_a, org_b):
    with within(org_a):
        codes = set(BusinessUnit.objects.values_list("code", flat=True))
    assert codes == {"CENTRAL"}
    with within(org_b):
        assert "BSECRET" in set(BusinessUnit.objects.values_list("code", flat=True))


def test_scope_of_finds_the_owner_of_a_row_or_none(org_b):
    with within(org_b):
        unit = BusinessUnit.objects.get(code="BSECRET")
    assert org_of(BusinessUnit, unit.pk) == org_b
    with scope_of(BusinessUnit, unit.pk) as org:
        assert org == org_b
        assert BusinessUnit.objects.get(pk=unit.pk).code == "BSECRET"
    with scope_of(BusinessUnit, 10**9) as org:
        assert org is None


def test_an_org_task_runs_in_its_rows_organisation_and_skips_a_gone_row(org_b):
    seen = []

    @org_task(BusinessUnit, name="tests.unit_name")
    def unit_name(unit_id, *, organization):
        seen.append(organization)
        return BusinessUnit.objects.get(pk=unit_id).name  # scoped query inside the task

    with within(org_b):
        unit = BusinessUnit.objects.get(code="BSECRET")
    assert unit_name.delay(unit.pk).get() == "Bravo Secret Unit"
    assert seen == [org_b]
    assert unit_name.delay(10**9).get() == GONE
    assert render_statement_pdf.delay(10**9).get() == GONE


def test_nothing_enters_a_scope_by_hand_outside_scoping():
    """django-scopes' `scope()` is called in tenancy/scoping.py only; every other entry point
    goes through it (the middleware, the API views, OrgCommand, org_task)."""
    root = Path(chargeback.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if path == root / "tenancy" / "scoping.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "django_scopes"
                and any(alias.name == "scope" for alias in node.names)
            ):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []


# Tasks that look across organisations on purpose, and why.
CROSS_ORGANISATION_TASKS = {
    "usage.process_batches": "one message carries batches of several organisations",
    "usage.requeue_stuck_batches": "the sweeper finds stuck batches wherever they are",
    "budgets.check_all_budgets": "beat finds the organisations with budgets; each is checked "
    "by the org_task budgets.check_org_budgets",
    "wallets.expire_sweep": "the sweeper finds expired reservations wherever they are",
    "wallets.funding_sweep": "the sweeper finds wallets whose month is not funded yet",
    "disputes.finalize_due_statements": "the sweeper finds periods in review wherever they "
    "are; each is finalized in its own scope (disputes.finalize_period, an org_task)",
    "reconciliation.clean_exports_sweep": "the sweeper finds organisations with expired "
    "exports; each is cleaned in its own scope (reconciliation.clean_exports, an org_task)",
}


def test_every_task_of_ours_is_an_org_task_or_says_why_not():
    celery_app.loader.import_default_modules()  # every app's tasks, also when run alone
    ours = {name: task for name, task in celery_app.tasks.items() if not name.startswith(
        ("celery.", "tests."))}  # fmt: skip
    plain = {name for name, task in ours.items() if not hasattr(task.run, "org_task_model")}
    assert plain == set(CROSS_ORGANISATION_TASKS)
    assert {"billing.render_statement_pdf", "usage.process_batch"} <= set(ours) - plain
