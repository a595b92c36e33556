"""The state of a billing period and of its drafts, in one place: what may happen next, what
the close page says about it, and the words of every refusal. The operations (`close`), the
tasks and the pages ask here; none of them writes a state or a refusal of its own.

    period:  open --issue--> in review --close--> closed
    drafts:  (none) --claim--> queued --worker--> running --stages--> done | failed

Drafts are regenerated only while the period is open; a run queued longer than STUCK_AFTER
without finishing (a lost worker) may be claimed again."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chargeback.billing.models import BillingPeriod, DraftStatus, PeriodState
from chargeback.billing.signals import statements_issued
from chargeback.calendar import Period


class CloseError(Exception):
    """A close step that cannot run; the message says why and what to do."""


RUNNING = (DraftStatus.QUEUED, DraftStatus.RUNNING)
# A generation queued this long ago without finishing (a lost worker) may be started again.
STUCK_AFTER = dt.timedelta(minutes=15)

# The stages of a generation, in order, as `draft_stage` stores them.
QUEUED, READING, ALLOCATING, WRITING, DONE = "queued", "reading", "allocating", "writing", "done"
# stage -> (percent done when it starts, what the page says)
STAGES = {
    "": (0, "Waiting for a worker"),
    QUEUED: (0, "Waiting for a worker"),
    READING: (10, "Reading the month's usage from the rollup"),
    ALLOCATING: (35, "Allocating with the policy in force"),
    WRITING: (60, "Writing the draft statements"),
    DONE: (100, "Done"),
}
WRITING_SPAN = 40  # the percent the writing stage covers, statement by statement

NOT_QUEUED = "The generation could not run; see the worker log, then try again."


def progress(billing: BillingPeriod) -> dict:
    """The close page's progress bar: percent, label and whether a generation is running."""
    start, label = STAGES.get(billing.draft_stage, (0, billing.draft_stage))
    percent = start
    if billing.draft_stage == WRITING and billing.draft_total:
        percent += WRITING_SPAN * billing.draft_done // billing.draft_total
    if billing.draft_status == DraftStatus.DONE:
        percent, label = 100, STAGES[DONE][1]
    return {"percent": percent, "label": label, "running": billing.draft_status in RUNNING}


# May I? ------------------------------------------------------------------------------------


def drafting_refusal(billing: BillingPeriod) -> str:
    """Why the month's drafts cannot be (re)generated ("" when they can)."""
    if billing.state == PeriodState.OPEN:
        return ""
    return (
        f"{billing.label} is already issued ({billing.get_state_display().lower()}): "
        "its statements are immutable; late usage goes to the next month as adjustments."
    )


def refuse_drafting(billing: BillingPeriod) -> None:
    """Raise CloseError unless the month's drafts may be (re)generated."""
    refusal = drafting_refusal(billing)
    if refusal:
        raise CloseError(refusal)


def issue_refusal(billing: BillingPeriod | None, period: Period, today: dt.date) -> str:
    """Why the month's drafts cannot be issued today, as far as the period's state tells ("" when
    nothing in it stands in the way; whether the drafts are current is `close.issue_blocker`'s)."""
    if billing is None or billing.draft_status != DraftStatus.DONE:
        return f"{period.label} has no draft statements: generate them first."
    if billing.state != PeriodState.OPEN:
        return f"{period.label} is already issued ({billing.get_state_display().lower()})."
    if period.last >= today:
        return (
            f"{period.label} is not over yet (it ends on {period.last:%-d %B %Y}): its drafts "
            "can be reviewed now, and issued from the first day of the next month."
        )
    return ""


def stale_refusal(period: Period, reasons: list[str]) -> str:
    """The refusal to issue drafts that no longer match what they would be now."""
    return (
        f"The drafts for {period.label} are out of date: {'; '.join(reasons)}. "
        "Regenerate the drafts, then issue."
    )


def close_refusal(billing: BillingPeriod | None, label: str) -> str:
    """Why the period cannot be closed ("" when it can: it is in review)."""
    if billing is None or billing.state == PeriodState.OPEN:
        return f"{label} is not issued yet: issue its statements first."
    if billing.state == PeriodState.CLOSED:
        return f"{label} is already closed."
    return ""


# Transitions -------------------------------------------------------------------------------


def claim_drafting(billing: BillingPeriod) -> bool:
    """Queue a generation for the open month, unless one is queued or running (and not stuck).
    Returns whether this call claimed it; the caller queues the task after commit."""
    now = timezone.now()
    running = Q(draft_status__in=RUNNING) & (
        Q(draft_started_at__isnull=True) | Q(draft_started_at__gt=now - STUCK_AFTER)
    )
    return bool(
        BillingPeriod.objects.filter(pk=billing.pk, state=PeriodState.OPEN)
        .exclude(running)
        .update(
            draft_status=DraftStatus.QUEUED,
            draft_started_at=now,
            draft_stage=QUEUED,
            draft_done=0,
            draft_total=0,
            draft_error="",
        )
    )


def start_drafting(period_id: int) -> None:
    """A worker picked the generation up."""
    BillingPeriod.objects.filter(pk=period_id, state=PeriodState.OPEN).update(
        draft_status=DraftStatus.RUNNING, draft_stage="", draft_done=0, draft_error=""
    )


def record_stage(period_id: int, stage: str, done: int, total: int) -> None:
    """A running generation reached `stage` (`done` of `total` items), for the progress bar."""
    BillingPeriod.objects.filter(pk=period_id).update(
        draft_stage=stage, draft_done=done, draft_total=total
    )


def finish_drafting(billing: BillingPeriod, count: int) -> None:
    """The drafts are written (`count` statements); the caller saves `billing`."""
    billing.draft_status = DraftStatus.DONE
    billing.draft_stage = DONE
    billing.draft_done = billing.draft_total = count
    billing.draft_error = ""
    billing.drafted_at = timezone.now()


def drafting_refused(period_id: int, refusal: str) -> None:
    """The generation was refused (CloseError): the page shows why, while the month is open."""
    BillingPeriod.objects.filter(pk=period_id, state=PeriodState.OPEN).update(
        draft_status=DraftStatus.FAILED, draft_error=refusal
    )


def drafting_crashed(period_id: int, exc: BaseException) -> None:
    """The generation raised: the page points to the worker log."""
    BillingPeriod.objects.filter(pk=period_id).update(
        draft_status=DraftStatus.FAILED,
        draft_error=f"Generation failed ({type(exc).__name__}); see the worker log.",
    )


def drafting_not_queued(period_id: int) -> None:
    """The task could not be queued (or, in-process, failed before recording why)."""
    BillingPeriod.objects.filter(pk=period_id).exclude(draft_status=DraftStatus.DONE).update(
        draft_status=DraftStatus.FAILED, draft_error=NOT_QUEUED
    )


def mark_issued(
    billing: BillingPeriod, *, actor: object, now: dt.datetime, deadline: dt.date
) -> None:
    """open -> in review; the caller has checked `issue_refusal` and saves nothing else.
    `statements_issued` is sent once the issue commits."""
    billing.state = PeriodState.IN_REVIEW
    billing.issued_at = now
    billing.issued_by = actor if getattr(actor, "is_authenticated", False) else None
    billing.dispute_deadline = deadline
    billing.save()
    transaction.on_commit(
        lambda: statements_issued.send_robust(
            sender=BillingPeriod,
            organization=billing.organization,
            period_id=billing.pk,
            deadline=deadline,
            actor=actor,
        ),
        robust=True,
    )


def mark_closed(billing: BillingPeriod, *, actor: object, override: str = "") -> None:
    """in review -> closed; the caller has checked `close_refusal` (and the close gates, which
    `override` overrode, with its written reason)."""
    billing.state = PeriodState.CLOSED
    billing.closed_at = timezone.now()
    billing.closed_by = actor if getattr(actor, "is_authenticated", False) else None
    billing.closed_by_label = actor_label(actor)
    billing.close_override = override
    billing.save()


def actor_label(actor: object) -> str:
    """Who acted, as the statements print it: a user's name or email, or the command."""
    if getattr(actor, "is_authenticated", False):
        name = getattr(actor, "get_full_name", lambda: "")() or ""
        return (name.strip() or getattr(actor, "email", "") or str(actor))[:254]
    return str(actor)[:254]
