"""The budget checks: each threshold (spend >= threshold% of the budget) and the forecast (the
month-end forecast above the budget before the budget is crossed) fire once per unit and month.

Firing is an INSERT guarded by the unique constraint (organization, unit, month, kind,
threshold), never a read-then-write: when several workers check at the same moment, one insert
wins and the others get an IntegrityError inside their savepoint and skip. The alert, its
deliveries and its audit event are written in one transaction; the email and webhooks are sent
by a task queued once it commits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, transaction

from chargeback.audit import log
from chargeback.budgets import inbox
from chargeback.budgets.delivery import deliver
from chargeback.budgets.models import Alert, AlertKind, Channel, Delivery, Webhook
from chargeback.budgets.status import BudgetStatus, budget_statuses, top_drivers
from chargeback.tenancy.models import Membership, Organization, Role

FORECAST_THRESHOLD = 100


def check_budgets(
    *, organization: Organization, today: dt.date | None = None, actor: object = "check_budgets"
) -> list[Alert]:
    """Fire the alerts due now; returns the alerts this call fired (none twice)."""
    fired: list[Alert] = []
    for status in budget_statuses(organization, today=today):
        if status.budget.unit.archived:
            continue  # an archived unit keeps its budget, read-only; nothing new to warn about
        for kind, threshold in due(status):
            alert = _fire(organization, status, kind=kind, threshold=threshold, actor=actor)
            if alert is not None:
                fired.append(alert)
    return fired


def due(status: BudgetStatus) -> list[tuple[str, int]]:
    """(kind, threshold) of every alert the status calls for, fired already or not."""
    amount = status.budget.amount
    out = [
        (AlertKind.THRESHOLD.value, t)
        for t in sorted(status.budget.thresholds)
        if status.spend >= amount * Decimal(t) / 100
    ]
    if status.forecast.point > amount and status.spend < amount:
        out.append((AlertKind.FORECAST.value, FORECAST_THRESHOLD))
    return out


def _fire(organization, status: BudgetStatus, *, kind: str, threshold: int, actor) -> Alert | None:
    budget = status.budget
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                organization=organization,
                unit=budget.unit,
                month=status.period.label,
                kind=kind,
                threshold=threshold,
                spend=status.spend,
                budget=budget.amount,
                forecast=status.forecast.point,
                drivers=top_drivers(organization, unit_ids=status.unit_ids, period=status.period),
            )
            deliveries = _deliveries(organization, alert)
            inbox.notify(organization, alert)
            log.record(
                organization=organization,
                actor=actor,
                action="budget.alert",
                obj=alert,
                after=log.snapshot(alert),
            )
    except IntegrityError:
        return None  # fired already (by this or another worker)
    for delivery in deliveries:
        transaction.on_commit(lambda pk=delivery.pk: deliver.delay(pk))
    return alert


def recipients(organization: Organization, alert: Alert) -> list[str]:
    """The unit's owner and the organisation's finance members."""
    finance = Membership.objects.filter(organization=organization, role=Role.FINANCE)
    emails = [alert.unit.owner_email, *finance.values_list("user__email", flat=True)]
    return sorted({e.lower() for e in emails if e})


def _deliveries(organization: Organization, alert: Alert) -> list[Delivery]:
    out = []
    emails = recipients(organization, alert)
    if emails:
        out.append(
            Delivery.objects.create(
                organization=organization, alert=alert, channel=Channel.EMAIL, recipients=emails
            )
        )
    for hook in Webhook.objects.filter(organization=organization, active=True):
        out.append(
            Delivery.objects.create(
                organization=organization,
                alert=alert,
                channel=Channel.WEBHOOK,
                webhook=hook,
                recipients=[hook.url],
            )
        )
    return out
