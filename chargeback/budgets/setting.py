"""Setting and removing budgets: one transaction each, with its audit event. Bad input is a
ValidationError naming the field (a budget in another currency than the organisation's is
refused)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction

from chargeback.audit import log
from chargeback.budgets.addresses import internal_problem
from chargeback.budgets.models import Budget, Webhook, default_thresholds
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit


def parse_amount(value: object, *, field: str = "amount") -> Decimal:
    if isinstance(value, float):
        raise ValidationError({field: f"{value!r}: write amounts as quoted strings, not floats"})
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError({field: f'"{value}" is not a decimal amount'}) from exc
    if not amount.is_finite():
        raise ValidationError({field: f'"{value}" is not a decimal amount'})
    return amount


@transaction.atomic
def set_budget(
    *,
    organization: Organization,
    unit: BusinessUnit,
    amount: Decimal | str,
    currency: str | None = None,
    thresholds: Sequence[int] | None = None,
    hard: bool = False,
    include_descendants: bool = True,
    actor: object,
) -> tuple[Budget, bool]:
    """Create or update `unit`'s monthly budget; returns (budget, changed)."""
    budget = Budget.objects.filter(organization=organization, unit=unit).first()
    before = log.snapshot(budget)
    old = _values(budget) if budget is not None else None
    if budget is None:
        budget = Budget(organization=organization, unit=unit)
    budget.amount = parse_amount(amount)
    budget.currency = (currency or organization.currency).strip().upper()
    budget.thresholds = list(thresholds) if thresholds is not None else default_thresholds()
    if isinstance(budget.thresholds, list) and all(isinstance(t, int) for t in budget.thresholds):
        budget.thresholds = sorted(budget.thresholds)
    budget.hard = hard
    budget.include_descendants = include_descendants
    budget.full_clean(exclude=["organization", "unit"])
    if old is not None and old == _values(budget):
        return budget, False
    budget.save()
    log.record(
        organization=organization,
        actor=actor,
        action="budget.update" if before else "budget.create",
        obj=budget,
        before=before,
        after=log.snapshot(budget),
    )
    return budget, True


def _values(budget: Budget) -> tuple:
    return (
        Decimal(budget.amount),
        budget.currency,
        list(budget.thresholds),
        budget.hard,
        budget.include_descendants,
    )


@transaction.atomic
def remove_budget(*, organization: Organization, budget: Budget, actor: object) -> None:
    before = log.snapshot(budget)
    log.record(
        organization=organization, actor=actor, action="budget.delete", obj=budget, before=before
    )
    budget.delete()


@transaction.atomic
def add_webhook(*, organization: Organization, name: str, url: str, secret: str, actor: object):
    hook = Webhook(organization=organization, name=name, url=url, secret=secret)
    hook.full_clean(exclude=["organization"])
    if problem := internal_problem(url):
        raise ValidationError({"url": f"The URL {problem}."})
    hook.save()
    log.record(
        organization=organization,
        actor=actor,
        action="webhook.create",
        obj=hook,
        after={"name": name, "url": url},  # never the secret
    )
    return hook


@transaction.atomic
def set_webhook_active(*, organization: Organization, hook: Webhook, active: bool, actor: object):
    before = {"active": hook.active}
    hook.active = active
    hook.save(update_fields=["active"])
    log.record(
        organization=organization,
        actor=actor,
        action="webhook.update",
        obj=hook,
        before=before,
        after={"active": active},
    )
