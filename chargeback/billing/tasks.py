"""Celery tasks of the close (draft generation with progress, PDF rendering) and how the pages
and commands queue them. This module sits above the close's logic: it imports `close`, `pdf`
and `period_state`, and none of them imports it; callers hand `queue_pdfs` to
`close.issue_statements`."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model

from chargeback.billing import period_state
from chargeback.billing.close import draft_statements
from chargeback.billing.models import BillingPeriod, PdfStatus, Statement
from chargeback.billing.pdf import store_pdf
from chargeback.billing.period_state import CloseError
from chargeback.calendar import Period
from chargeback.tenancy.models import Organization
from chargeback.tenancy.scoping import org_task

logger = logging.getLogger(__name__)


@org_task(
    BillingPeriod, name="billing.draft_statements", acks_late=True, reject_on_worker_lost=True
)
def draft_statements_task(
    period_id: int, actor_id: int | None = None, *, organization: Organization
) -> str:
    billing = BillingPeriod.objects.get(pk=period_id)
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else "close task"

    def progress(stage: str, done: int, total: int) -> None:
        period_state.record_stage(period_id, stage, done, total)

    period_state.start_drafting(period_id)
    try:
        draft_statements(organization, Period.parse(billing.label), actor=actor, progress=progress)
    except CloseError as exc:
        period_state.drafting_refused(period_id, str(exc))
        return f"failed: {exc}"
    except Exception as exc:
        period_state.drafting_crashed(period_id, exc)
        raise
    return "done"


@org_task(
    Statement, name="billing.render_statement_pdf", acks_late=True, reject_on_worker_lost=True
)
def render_statement_pdf(statement_id: int, *, organization: Organization) -> str:
    statement = Statement.objects.select_related("organization", "period", "unit").get(
        pk=statement_id
    )
    # No transaction around it: a failed render must leave its FAILED status behind.
    store_pdf(statement)
    return "done"


def queue_drafts(period_id: int, actor_id: int | None) -> None:
    """Queue the generation a page claimed (`period_state.claim_drafting`); run after commit.
    In eager mode the task runs here; it records its own failure."""
    try:
        draft_statements_task.delay(period_id, actor_id)
    except Exception:
        logger.exception("draft generation for period %s failed", period_id)
        period_state.drafting_not_queued(period_id)


def queue_pdfs(organization: Organization, ids: list[int]) -> int:
    """Queue the statements' PDFs; returns how many were queued. A statement is marked QUEUED
    only as it is queued, and FAILED if queueing it fails (the broker is down; in-process, the
    render itself failed), so none is left waiting for a task that does not exist."""
    queued = 0
    for pk in ids:
        mine = Statement.objects.filter(organization=organization, pk=pk)
        if not mine.exclude(pdf_status=PdfStatus.DONE).update(pdf_status=PdfStatus.QUEUED):
            continue  # rendered meanwhile (or not this organisation's)
        try:
            render_statement_pdf.delay(pk)
        except Exception:
            logger.exception("the PDF of statement %s could not be queued", pk)
            mine.filter(pdf_status=PdfStatus.QUEUED).update(pdf_status=PdfStatus.FAILED)
            continue
        queued += 1
    return queued
