"""When an issued statement becomes final, and what the next drafts carry from earlier ones.

The one rule: an issued statement becomes `final` when its dispute window has passed (the day
after its `dispute_deadline`, in the organisation's timezone) and nothing holds it open. Closing
the period makes all its statements final too, and is refused while anything holds one of them.
`finalize_due` applies the rule (the `finalize_statements` command and the beat task call it);
it is idempotent.

Billing sits below the apps that correct statements (disputes), so it cannot ask them; they
tell it, once, when Django starts (their AppConfig.ready):

- `register_hold(fn)`: `fn(organization, statement_ids) -> {statement_id: reason}`, the
  statements that must not become final yet (an open dispute) and why;
- `register_carried_lines(fn)`: `fn(organization, period) -> {unit_code: [Line, ...]}`, lines
  a draft of `period` carries (a dispute's `credit` and `adjustment`). Drafts are regenerated
  as a whole, so a function returns every line the month still has to carry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from django.db import transaction
from django.utils import timezone

from chargeback.allocation.engine import Line
from chargeback.audit import log
from chargeback.billing.models import Statement, StatementStatus
from chargeback.billing.signals import statements_final
from chargeback.calendar import Period, local_today
from chargeback.tenancy.models import Organization

Hold = Callable[[Organization, list[int]], dict[int, str]]
CarriedLines = Callable[[Organization, Period], dict[str, list[Line]]]
_holds: list[Hold] = []
_carried: list[CarriedLines] = []


def register_hold(fn: Hold) -> Hold:
    if fn not in _holds:
        _holds.append(fn)
    return fn


def register_carried_lines(fn: CarriedLines) -> CarriedLines:
    if fn not in _carried:
        _carried.append(fn)
    return fn


def holds(organization: Organization, statement_ids: Iterable[int]) -> dict[int, str]:
    """The statements among `statement_ids` that something holds open, with the reason."""
    ids = list(statement_ids)
    out: dict[int, str] = {}
    if not ids:
        return out
    for fn in _holds:
        for pk, reason in fn(organization, ids).items():
            out.setdefault(pk, reason)
    return out


def carried_lines(organization: Organization, period: Period) -> dict[str, list[Line]]:
    """Every line a draft of `period` carries from outside the month, by unit code."""
    out: dict[str, list[Line]] = {}
    for fn in _carried:
        for code, lines in fn(organization, period).items():
            out.setdefault(code, []).extend(lines)
    return out


def window_passed(statement: Statement, today: dt.date) -> bool:
    return statement.dispute_deadline is not None and today > statement.dispute_deadline


def finalize_due(
    organization: Organization,
    *,
    actor: object = "system",
    today: dt.date | None = None,
    statement_ids: Iterable[int] | None = None,
) -> list[Statement]:
    """Make final every issued statement (of `statement_ids`, or all) whose window has passed
    and which nothing holds. Returns those it finalized, in number order."""
    today = today or local_today(organization.tz)
    with transaction.atomic():
        due = Statement.objects.select_for_update().filter(
            organization=organization,
            status=StatementStatus.ISSUED,
            dispute_deadline__lt=today,
        )
        if statement_ids is not None:
            due = due.filter(pk__in=list(statement_ids))
        due = list(due.order_by("number"))
        held = holds(organization, [s.pk for s in due])
        done: list[Statement] = []
        now = timezone.now()
        for statement in (s for s in due if s.pk not in held):
            # compare-and-set: a concurrent run finalizes each statement once
            if not Statement.objects.filter(pk=statement.pk, status=StatementStatus.ISSUED).update(
                status=StatementStatus.FINAL
            ):
                continue
            statement.status = StatementStatus.FINAL
            done.append(statement)
            log.record(
                organization=organization,
                actor=actor,
                action="billing.finalize",
                obj=statement,
                before={"status": StatementStatus.ISSUED},
                after={"status": StatementStatus.FINAL, "at": now.isoformat()},
            )
        if done:
            # In the same transaction, as close_period does (wallets posts the chargebacks).
            statements_final.send(
                sender=Statement,
                organization=organization,
                statement_ids=[s.pk for s in done],
                actor=actor,
            )
    return done
