"""What a statement says about disputing it: one wording for its page and its PDF, so the two
always tell the same story (the deadline or how the window ended, the disputes on it and their
outcomes, its credit notes and what the unit owes after them).

Billing cannot read disputes (layers): the disputes app tells it, once, when Django starts
(`register_notes(fn)`, `fn(organization, statement) -> [sentence, ...]`, one sentence per
dispute on the statement, in opening order).

The PDF stored at issue is the document as issued. Once the story differs from what it was on
the issue day (a day has passed, a dispute was opened, a credit note issued, the period
closed), a download renders the PDF again with the story as it is now (`pdf_is_current`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from chargeback.billing.models import CreditNote, Statement, StatementStatus
from chargeback.calendar import local_today
from chargeback.tenancy.models import Organization
from chargeback.wording import plural

Notes = Callable[[Organization, Statement], list[str]]
_notes: list[Notes] = []


def register_notes(fn: Notes) -> Notes:
    if fn not in _notes:
        _notes.append(fn)
    return fn


def _day(value: dt.date) -> str:
    return f"{value:%-d %B %Y}"


def window_text(statement: Statement, today: dt.date) -> str:
    """The one sentence about the statement's dispute window, as of `today`."""
    org = statement.organization
    deadline = statement.dispute_deadline
    if statement.status == StatementStatus.DRAFT or deadline is None:
        return (
            "The dispute window opens when this statement is issued and lasts "
            f"{plural(org.dispute_review_days, 'business day')}."
        )
    period = statement.period
    closed_on = period.closed_at.astimezone(org.tz).date() if period.closed_at else None
    if statement.status == StatementStatus.FINAL and closed_on and closed_on <= deadline:
        who = period.closed_by_label or "finance"
        if period.close_override:
            return f"Closed early on {_day(closed_on)} by {who}: {period.close_override}"
        return (
            f"Closed early on {_day(closed_on)} by {who}, before the dispute window "
            f"ended on {_day(deadline)}."
        )
    if statement.status == StatementStatus.FINAL:
        return f"Closed on {_day(deadline)} after the window: this statement is final."
    if today <= deadline:
        left = org.calendar.between(today, deadline)
        days = "last day" if left == 0 else f"{plural(left, 'business day')} left"
        return f"You can dispute until {_day(deadline)} ({days})."
    return (
        f"The dispute window closed on {_day(deadline)}; this statement becomes final once "
        "no dispute on it is open."
    )


def dispute_notes(statement: Statement) -> list[str]:
    out: list[str] = []
    for fn in _notes:
        out += fn(statement.organization, statement)
    return out


@dataclass(frozen=True)
class Story:
    window: str
    disputes: list[str] = field(default_factory=list)
    credit_notes: list[CreditNote] = field(default_factory=list)
    credited: Decimal = Decimal(0)
    net: Decimal = Decimal(0)

    def key(self) -> tuple:
        return (self.window, tuple(self.disputes), tuple(c.number for c in self.credit_notes))


def story(statement: Statement, today: dt.date | None = None) -> Story:
    today = today or local_today(statement.organization.tz)
    notes = list(CreditNote.objects.filter(statement=statement).order_by("number"))
    credited = sum((c.amount for c in notes), Decimal(0))
    return Story(
        window=window_text(statement, today),
        disputes=dispute_notes(statement),
        credit_notes=notes,
        credited=credited,
        net=statement.total - credited,
    )


def pdf_is_current(statement: Statement, today: dt.date | None = None) -> bool:
    """Whether the PDF stored at issue still tells the story as it is `today`."""
    if statement.status == StatementStatus.DRAFT or statement.issued_at is None:
        return True
    org = statement.organization
    issued_on = statement.issued_at.astimezone(org.tz).date()
    now = story(statement, today)
    return now.key() == (window_text(statement, issued_on), (), ()) and (
        statement.status == StatementStatus.ISSUED
    )
