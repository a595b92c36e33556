"""Celery tasks of the close: draft generation with progress, and PDF rendering."""

from __future__ import annotations

from chargeback.billing.models import BillingPeriod, DraftStatus, PeriodState, Statement
from chargeback.calendar import Period
from chargeback.tenancy.models import Organization
from chargeback.tenancy.scoping import org_task


@org_task(
    BillingPeriod, name="billing.draft_statements", acks_late=True, reject_on_worker_lost=True
)
def draft_statements_task(
    period_id: int, actor_id: int | None = None, *, organization: Organization
) -> str:
    from django.contrib.auth import get_user_model

    from chargeback.billing.close import CloseError, draft_statements

    billing = BillingPeriod.objects.get(pk=period_id)
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else "close task"

    def progress(stage: str, done: int, total: int) -> None:
        BillingPeriod.objects.filter(pk=period_id).update(
            draft_stage=stage, draft_done=done, draft_total=total
        )

    BillingPeriod.objects.filter(pk=period_id, state=PeriodState.OPEN).update(
        draft_status=DraftStatus.RUNNING, draft_stage="", draft_done=0, draft_error=""
    )
    try:
        draft_statements(organization, Period.parse(billing.label), actor=actor, progress=progress)
    except CloseError as exc:
        BillingPeriod.objects.filter(pk=period_id, state=PeriodState.OPEN).update(
            draft_status=DraftStatus.FAILED, draft_error=str(exc)
        )
        return f"failed: {exc}"
    except Exception as exc:
        BillingPeriod.objects.filter(pk=period_id).update(
            draft_status=DraftStatus.FAILED,
            draft_error=f"Generation failed ({type(exc).__name__}); see the worker log.",
        )
        raise
    return "done"


@org_task(
    Statement, name="billing.render_statement_pdf", acks_late=True, reject_on_worker_lost=True
)
def render_statement_pdf(statement_id: int, *, organization: Organization) -> str:
    from chargeback.billing.pdf import store_pdf

    statement = Statement.objects.select_related("organization", "period", "unit").get(
        pk=statement_id
    )
    # No transaction around it: a failed render must leave its FAILED status behind.
    store_pdf(statement)
    return "done"
