"""Beat: issued statements become final once their review window has passed and no dispute
holds them (`billing.finality.finalize_due`, the same rule as `finalize_statements`), and
overdue disputes are flagged to the admins once (`notices.flag_overdue`), and the reminders
two business days before a deadline go out once (`reminders.send_reminders`)."""

from __future__ import annotations

from celery import shared_task
from django_scopes import scopes_disabled

from chargeback.billing.finality import finalize_due
from chargeback.billing.models import BillingPeriod, PeriodState
from chargeback.disputes.notices import flag_overdue
from chargeback.disputes.reminders import send_reminders
from chargeback.tenancy.models import Organization
from chargeback.tenancy.scoping import org_task

FINALIZE_DUE = "disputes.finalize_due_statements"


@shared_task(name=FINALIZE_DUE)
def finalize_due_statements() -> list[int]:
    # Across every organisation, on purpose: the sweeper only reads the ids of periods in
    # review; each is finalized in its own organisation's scope (finalize_period enters it).
    with scopes_disabled():
        ids = list(
            BillingPeriod.objects.filter(state=PeriodState.IN_REVIEW).values_list("pk", flat=True)
        )
    for pk in ids:
        finalize_period.delay(pk)
    return ids


@org_task(BillingPeriod, name="disputes.finalize_period")
def finalize_period(period_id: int, *, organization: Organization) -> list[str]:
    billing = BillingPeriod.objects.get(pk=period_id)
    ids = billing.statements.values_list("pk", flat=True)
    done = finalize_due(organization, actor="finalize task", statement_ids=list(ids))
    flag_overdue(organization, actor="finalize task")
    send_reminders(organization)
    return [s.number for s in done]
