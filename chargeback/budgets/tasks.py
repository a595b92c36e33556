"""Celery tasks: the 15-minute budget check, one message per organisation with budgets (the
delivery task is in delivery.py)."""

from __future__ import annotations

from celery import shared_task
from django_scopes import scopes_disabled

from chargeback.budgets.checks import check_budgets
from chargeback.budgets.models import Budget
from chargeback.tenancy.scoping import org_task

CHECK_ALL = "budgets.check_all_budgets"


@shared_task(name=CHECK_ALL)
def check_all_budgets() -> int:
    # Across organisations on purpose: only finds one budget id per organisation; each check
    # runs in its own organisation's scope (check_org_budgets is an org_task).
    with scopes_disabled():
        first = {}
        for pk, org_id in Budget.objects.order_by("pk").values_list("pk", "organization_id"):
            first.setdefault(org_id, pk)
    for pk in first.values():
        check_org_budgets.delay(pk)
    return len(first)


@org_task(Budget, name="budgets.check_org_budgets")
def check_org_budgets(budget_id: int, *, organization) -> int:
    return len(check_budgets(organization=organization, actor="beat: check_budgets"))
