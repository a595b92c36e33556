"""The dispute operations: open, review, ask and answer, resolve, withdraw, comment.

Each is a verb function with keyword-only arguments, run in one transaction that locks the
dispute (`select_for_update`), asks `workflow.next_state` for the move, and writes the
DisputeEvent and the AuditEvent with the change. Two finance users resolving one dispute at
once: the second waits for the first's lock, then finds the new state and is refused with it.

`membership` is who acts. A team lead reaches only its units' statements and disputes (others
are "not found", as a page gives 404); finance and admins act on any. Refusals raise
`DisputeError` (a clear message naming the field) and write nothing; `DisputeNotFound` is the
404 case. Amounts are decimal texts or Decimals, quantized to the organisation's currency.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation

from django.db import transaction

from chargeback.audit.log import record
from chargeback.billing import finality
from chargeback.billing.models import Statement, StatementLine, StatementStatus
from chargeback.calendar import local_today
from chargeback.disputes import enforcement, outcomes
from chargeback.disputes.announce import dispute_moved
from chargeback.disputes.models import Dispute, DisputeEvent, DisputeLine, Reason, State
from chargeback.disputes.workflow import ACTIVE, ACTORS, OUTCOMES, TransitionRefused, next_state
from chargeback.money import quantize
from chargeback.tenancy.models import Membership, Role
from chargeback.units.models import BusinessUnit
from chargeback.units.queries import unit_in_reach

ZERO = Decimal(0)
FINANCE_ROLES = (Role.FINANCE, Role.ADMIN)
MAX_TEXT = 5000


class DisputeError(Exception):
    """A refused operation; nothing was written."""


class DisputeNotFound(DisputeError):
    """Not in this organisation, or not in the member's reach (a page gives 404)."""


def is_finance(membership: Membership) -> bool:
    return membership.role in FINANCE_ROLES


def can_reach(membership: Membership, unit: BusinessUnit) -> bool:
    """Finance and admins reach every unit; a team lead its subtrees; others none to act on."""
    if is_finance(membership):
        return unit.organization_id == membership.organization_id
    return membership.role == Role.TEAM_LEAD and unit_in_reach(membership, unit)


def parse_amount(value: object, currency: str, *, field: str = "amount") -> Decimal:
    """A positive amount in the currency's minor unit; DisputeError naming the field."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise DisputeError(f'{field}: "{value}" is not an amount') from None
    if not amount.is_finite() or amount <= 0:
        raise DisputeError(f'{field}: "{value}" must be more than zero')
    rounded = quantize(amount, currency)
    if rounded != amount:
        raise DisputeError(f'{field}: "{value}" has more decimals than {currency} allows')
    return rounded


def claimable(statement: Statement, line_ids: Iterable[int], *, exclude: int | None = None):
    """What may still be disputed on these lines (all: the statement): their amount, less what
    other open disputes claim and what accepted ones credited, where they overlap."""
    ids = set(line_ids)
    lines = StatementLine.objects.filter(statement=statement)
    base = sum((x.amount for x in lines if x.pk in ids), ZERO) if ids else statement.total
    claimed = ZERO
    others = (
        Dispute.objects.filter(statement=statement).exclude(pk=exclude).prefetch_related("targets")
    )
    for other in others:
        if other.state in ACTIVE:
            claim = other.amount
        elif other.state in OUTCOMES:
            claim = other.credited or ZERO
        else:
            continue
        theirs = {t.line_id for t in other.targets.all()}
        if not ids or not theirs or ids & theirs:
            claimed += claim
    return base - claimed


def open_dispute(
    *,
    membership: Membership,
    statement: Statement,
    amount: object,
    reason: str,
    description: str,
    line_ids: Iterable[int] = (),
    request_ids: Iterable[str] = (),
    evidence_file: object = None,
    today: dt.date | None = None,
) -> Dispute:
    """Open a dispute on `statement` (or on its `line_ids`) within its review window."""
    org = membership.organization
    if statement.organization_id != org.pk or not can_reach(membership, statement.unit):
        raise DisputeNotFound(f"statement {statement.number} not found")
    if reason not in Reason.values:
        raise DisputeError(f'reason: "{reason}" is not one of {", ".join(Reason.values)}')
    description = (description or "").strip()
    if not description:
        raise DisputeError("text: say what is wrong with the charge")
    _check_length(description)
    value = parse_amount(amount, statement.currency)
    today = today or local_today(org.tz)
    with transaction.atomic():
        statement = Statement.objects.select_for_update().get(pk=statement.pk)
        _check_window(statement, today)
        ids = list(dict.fromkeys(int(i) for i in line_ids))
        known = set(StatementLine.objects.filter(statement=statement).values_list("pk", flat=True))
        for pk in ids:
            if pk not in known:
                raise DisputeError(f"lines: {pk} is not a line of statement {statement.number}")
        room = claimable(statement, ids)
        if value > room:
            what = "these lines" if ids else "the statement"
            raise DisputeError(
                f"amount: {value} is more than {what} allow: at most {max(room, ZERO)} "
                f"{statement.currency} (their amount less what other disputes claim)"
            )
        dispute = Dispute.objects.create(
            organization=org,
            statement=statement,
            unit=statement.unit,
            reason=reason,
            amount=value,
            description=description,
            request_ids=[str(r).strip() for r in request_ids if str(r).strip()],
            opened_by=membership.user,
            opened_on=today,
            respond_by=org.calendar.add(today, org.dispute_response_days),
        )
        if evidence_file:
            dispute.evidence_file = evidence_file
            dispute.save(update_fields=["evidence_file"])
        DisputeLine.objects.bulk_create(
            DisputeLine(organization=org, dispute=dispute, line_id=pk) for pk in ids
        )
        _event(dispute, membership, "open", "", State.OPEN, description)
        record(
            organization=org,
            actor=membership.user,
            action="dispute.open",
            obj=dispute,
            after={
                "statement": statement.number,
                "lines": ids,
                "reason": reason,
                "amount": str(value),
                "respond_by": dispute.respond_by.isoformat(),
            },
        )
    return dispute


def _check_window(statement: Statement, today: dt.date) -> None:
    deadline = statement.dispute_deadline
    if statement.status == StatementStatus.DRAFT:
        raise DisputeError(f"statement {statement.number} is a draft: it is not issued yet")
    if statement.status == StatementStatus.FINAL or deadline is None or today > deadline:
        closed = f" on {deadline:%Y-%m-%d}" if deadline else ""
        raise DisputeError(
            f"statement {statement.number}: the review window closed{closed}; "
            "disputes can no longer be opened"
        )


def _check_length(text: str) -> None:
    if len(text) > MAX_TEXT:
        raise DisputeError(f"text: at most {MAX_TEXT} characters, not {len(text)}")


def start_review(*, membership: Membership, dispute: Dispute, text: str = "", today=None):
    return _move(dispute, membership, "start_review", text, today=today)


def request_info(*, membership: Membership, dispute: Dispute, text: str, today=None):
    """Ask the unit for more: the response clock pauses until it answers."""
    if not (text or "").strip():
        raise DisputeError("text: say what information is needed")

    def pause(d: Dispute, day: dt.date) -> None:
        d.paused_since = day

    return _move(dispute, membership, "request_info", text, change=pause, today=today)


def answer_info(*, membership: Membership, dispute: Dispute, text: str, today=None):
    """The unit answers: the clock runs again, and the response date moves by the pause."""
    if not (text or "").strip():
        raise DisputeError("text: the answer is empty")

    def resume(d: Dispute, day: dt.date) -> None:
        cal = d.organization.calendar
        d.paused_days += max(cal.between(d.paused_since or day, day), 0)
        d.paused_since = None
        d.respond_by = cal.add(d.opened_on, d.organization.dispute_response_days + d.paused_days)

    return _move(dispute, membership, "answer_info", text, change=resume, today=today)


def withdraw(*, membership: Membership, dispute: Dispute, text: str = "", today=None):
    return _move(dispute, membership, "withdraw", text, today=today, finalize=True)


def resolve(
    *,
    membership: Membership,
    dispute: Dispute,
    outcome: str,
    text: str,
    amount: object = None,
    to_unit: BusinessUnit | None = None,
    today: dt.date | None = None,
    cause_key: object = None,
    cause_key_id: str = "",
    cause_tag: str = "",
) -> Dispute:
    """accepted (the whole amount), partially_accepted (`amount`, less than disputed) or
    rejected (a written reason). A wrong_owner dispute accepted with `to_unit` records that the
    amount moves to that unit; otherwise the central bucket absorbs the credit, and finance may
    name the gateway key (`cause_key`: its id; `cause_key_id`: its gateway key id) or the team
    tag (`cause_tag`) behind it for enforcement, instead of the one the requests show."""
    if outcome not in OUTCOMES:
        raise DisputeError(f'outcome: "{outcome}" is not one of {", ".join(OUTCOMES)}')
    # Who may resolve first: a refusal must not tell whether a named key or tag exists.
    _check_actor(membership, dispute, OUTCOMES[outcome])
    try:
        named = enforcement.named_cause(
            dispute.organization, key_pk=cause_key, key_id=cause_key_id, tag=cause_tag
        )
    except enforcement.CauseRefused as exc:
        raise DisputeError(str(exc)) from None
    if named and (
        dispute.reason != Reason.WRONG_OWNER or outcome == State.REJECTED or to_unit is not None
    ):
        field = "cause_key" if named[0] == "key" else "cause_tag"
        raise DisputeError(
            f"{field}: only a wrong_owner dispute accepted with no right unit lists a cause"
        )
    text = (text or "").strip()
    if outcome == State.REJECTED and not text:
        raise DisputeError("text: a rejection needs a written reason")
    currency = dispute.statement.currency
    credited = None
    if outcome == State.REJECTED:
        if amount not in (None, ""):
            raise DisputeError("amount: a rejection credits nothing")
        if to_unit is not None:
            raise DisputeError("to_unit: a rejection moves nothing")
    elif amount not in (None, ""):
        credited = parse_amount(amount, currency)
    if outcome == State.PARTIALLY_ACCEPTED and credited is None:
        raise DisputeError("amount: a partial acceptance names the amount accepted")

    def settle(d: Dispute, day: dt.date) -> None:
        value = d.amount if credited is None and outcome == State.ACCEPTED else credited
        if outcome == State.ACCEPTED and value != d.amount:
            raise DisputeError(
                f"amount: accepting credits the whole {d.amount}; use partially_accepted "
                f"for {value}"
            )
        if outcome == State.PARTIALLY_ACCEPTED and value >= d.amount:
            raise DisputeError(f"amount: {value} is not less than the {d.amount} disputed")
        if to_unit is not None:
            _check_target(d, to_unit)
        d.outcome = outcome
        d.credited = value if value is not None else ZERO
        d.reassigned_to = to_unit
        d.resolution = text
        d.resolved_by = membership.user
        d.resolved_on = day
        try:
            outcomes.apply(d, membership, outcome, day, named=named)
        except outcomes.DisputeOutcomeRefused as exc:
            raise DisputeError(str(exc)) from None

    return _move(
        dispute,
        membership,
        OUTCOMES[outcome],
        text,
        change=settle,
        today=today,
        finalize=True,
        review_first=True,
    )


def _check_target(dispute: Dispute, unit: BusinessUnit) -> None:
    if dispute.reason != Reason.WRONG_OWNER:
        raise DisputeError("to_unit: only a wrong_owner dispute moves its amount to another unit")
    if unit.organization_id != dispute.organization_id:
        raise DisputeNotFound("to_unit: no such unit")
    if unit.pk == dispute.unit_id:
        raise DisputeError(f"to_unit: {unit.code} is the disputed unit itself")
    if unit.archived:
        raise DisputeError(f"to_unit: {unit.code} is archived")


def comment(*, membership: Membership, dispute: Dispute, text: str) -> DisputeEvent:
    """A comment on the thread, by the unit's side or finance; any state."""
    text = (text or "").strip()
    if not text:
        raise DisputeError("text: the comment is empty")
    _check_length(text)
    _check_reach(membership, dispute)
    with transaction.atomic():
        locked = Dispute.objects.select_for_update().get(pk=dispute.pk)
        event = _event(locked, membership, "comment", "", "", text)
        record(
            organization=locked.organization,
            actor=membership.user,
            action="dispute.comment",
            obj=locked,
            after={"text": text},
        )
    return event


def _check_reach(membership: Membership, dispute: Dispute) -> None:
    if dispute.organization_id != membership.organization_id or not can_reach(
        membership, dispute.unit
    ):
        raise DisputeNotFound(f"dispute {dispute.pk} not found")


def _check_actor(membership: Membership, dispute: Dispute, action: str) -> None:
    _check_reach(membership, dispute)
    who = ACTORS[action]
    if who == "finance" and not is_finance(membership):
        raise DisputeError(f"only finance and admins may {action.replace('_', ' ')} a dispute")
    if who == "opener" and membership.user_id != dispute.opened_by_id:
        raise DisputeError(f"only the one who opened dispute {dispute.pk} may withdraw it")


def _move(
    dispute: Dispute,
    membership: Membership,
    action: str,
    text: str,
    *,
    change: Callable[[Dispute, dt.date], None] | None = None,
    today: dt.date | None = None,
    finalize: bool = False,
    review_first: bool = False,
) -> Dispute:
    _check_actor(membership, dispute, action)
    _check_length(text or "")
    org = membership.organization
    today = today or local_today(org.tz)
    with transaction.atomic():
        locked = (
            Dispute.objects.select_for_update().select_related("organization").get(pk=dispute.pk)
        )
        before = {"state": locked.state}
        if review_first and locked.state == State.OPEN:  # resolving starts the review
            locked.state = _step(locked, "start_review")
            _event(locked, membership, "start_review", State.OPEN, locked.state, "")
        source = locked.state
        target = _step(locked, action)
        if change:
            change(locked, today)
        locked.state = target
        locked.save()
        _event(locked, membership, action, source, target, text)
        record(
            organization=org,
            actor=membership.user,
            action=f"dispute.{action}",
            obj=locked,
            before=before,
            after={
                "state": target,
                "text": text,
                "credited": locked.credited,
                "reassigned_to": locked.reassigned_to.code if locked.reassigned_to else None,
                "respond_by": locked.respond_by,
            },
        )
        if finalize:
            finality.finalize_due(
                org, actor=membership.user, today=today, statement_ids=[locked.statement_id]
            )
    return locked


def _step(dispute: Dispute, action: str) -> str:
    try:
        return next_state(action, dispute.state, dispute_id=dispute.pk)
    except TransitionRefused as exc:
        raise DisputeError(str(exc)) from None


def _event(
    dispute: Dispute, membership: Membership, action: str, source: str, target: str, text: str
) -> DisputeEvent:
    user = membership.user
    event = DisputeEvent.objects.create(
        organization=dispute.organization,
        dispute=dispute,
        action=action,
        from_state=source,
        to_state=target,
        actor=user,
        actor_label=f"{user.email} ({membership.get_role_display().lower()})",
        text=text or "",
    )
    dispute_moved(event)  # the people concerned are told (notices now, mail after commit)
    return event
