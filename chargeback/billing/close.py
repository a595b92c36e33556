"""Month-end close: draft the period's statements from the rollup and the policy, issue them
(the dispute window opens), and close the period (final). What may happen when, and the
refusals, are `period_state`'s; these operations ask it and do the work.

Drafts are regenerated as a whole while the period is open, so statement numbers stay
gapless: `ACME-2026-10-0001` ... in unit-code order. Issuing freezes them; usage that arrives
later for an issued month flows into the next drafted month as adjustment lines labelled with
the month they correct (`late`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from chargeback.allocation.engine import Allocation, Line, allocate
from chargeback.allocation.policy import policy_doc
from chargeback.allocation.queries import policy_for
from chargeback.audit import log
from chargeback.billing import close_gates, finality, period_state
from chargeback.billing.checksums import checksum, storable
from chargeback.billing.inputs import Month, month_usage
from chargeback.billing.late import late_adjustments
from chargeback.billing.models import (
    BillingPeriod,
    PeriodState,
    Statement,
    StatementLine,
    StatementStatus,
)
from chargeback.billing.period_state import CloseError
from chargeback.billing.signals import statements_final
from chargeback.billing.staleness import (
    carried_digest,
    draft_inputs,
    late_digest,
    stale_reasons,
)
from chargeback.calendar import Period
from chargeback.money import quantize
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit
from chargeback.usage.models import QuarantinedEvent
from chargeback.usage.records import read_stored
from chargeback.wording import plural

ZERO = Decimal(0)
Progress = Callable[[str, int, int], None]
# Queues the PDFs of the statements just issued (their ids), after the issue commits.
QueuePdfs = Callable[[Organization, list[int]], object]
MAX_OVERRIDE = 2000


@dataclass(frozen=True)
class QuarantineWarning:
    count: int
    tokens: int

    def __str__(self) -> str:
        return (
            f"{plural(self.count, 'event')} for this month {'is' if self.count == 1 else 'are'} "
            "still in quarantine "
            f"({self.tokens:,} tokens, not yet priced or billed): fix or discard them first, "
            "or they will reach a later month as adjustments"
        )


def period_for(organization: Organization, period: Period) -> BillingPeriod:
    obj, _ = BillingPeriod.objects.get_or_create(organization=organization, month=period.first)
    return obj


def quarantine_warning(organization: Organization, period: Period) -> QuarantineWarning | None:
    """Open quarantined records whose timestamp falls in the month (org timezone), read as
    validation reads them (`usage.records.read_stored`)."""
    tz = organization.tz
    count = tokens = 0
    for raw in (
        QuarantinedEvent.objects.filter(organization=organization, status="open")
        .values_list("raw", flat=True)
        .iterator()
    ):
        record = read_stored(raw)
        if record.occurred_at is None:
            continue
        if not (period.first <= record.occurred_at.astimezone(tz).date() <= period.last):
            continue
        count += 1
        tokens += record.input_tokens + record.output_tokens
    return QuarantineWarning(count, tokens) if count else None


# Drafts -----------------------------------------------------------------------------------


def draft_statements(
    organization: Organization,
    period: Period,
    *,
    actor: object = "system",
    progress: Progress | None = None,
) -> BillingPeriod:
    """(Re)generate every draft statement of the month. Refused once the period is issued.

    The month is read and allocated first, then written in one transaction; `progress`
    hears each stage (outside that transaction, so a close page can show it)."""
    report = progress or (lambda stage, done, total: None)
    billing = period_for(organization, period)
    period_state.refuse_drafting(billing)
    report(period_state.READING, 0, 0)
    policy = policy_for(organization, period)
    inputs = draft_inputs(organization, period)
    month = month_usage(organization, period, fixed_fees=policy.fixed_fee_for_all)
    report(period_state.ALLOCATING, 0, len(month.usage.units))
    allocation = allocate(month.usage, policy)
    late_totals: dict[str, tuple[Decimal, int]] = {}
    adjustments = late_adjustments(organization, period, late_totals)
    inputs["late"] = late_digest(adjustments, late_totals)
    inputs["late_totals"] = {label: [str(c), r] for label, (c, r) in late_totals.items()}
    carried_lines = finality.carried_lines(organization, period)
    inputs["carried"] = carried_digest(carried_lines)
    for code, carried in carried_lines.items():
        adjustments.setdefault(code, []).extend(carried)  # e.g. a resolved dispute's credit
    count = len({s.unit for s in allocation.statements} | set(adjustments))
    report(period_state.WRITING, 0, count)
    with transaction.atomic():
        billing = BillingPeriod.objects.select_for_update().get(pk=billing.pk)
        period_state.refuse_drafting(billing)
        Statement.objects.filter(period=billing).delete()
        _write(organization, billing, month, allocation, adjustments)
        period_state.finish_drafting(billing, count)
        billing.usage_cost = month.cost
        billing.unallocated_cost = month.usage.unallocated
        billing.requests = month.requests
        billing.policy = policy_doc(policy)
        billing.inputs = inputs
        billing.save()
        log.record(
            organization=organization,
            actor=actor,
            action="billing.draft",
            obj=billing,
            after={
                "statements": count,
                "total": str(
                    allocation.total
                    + sum((x.amount for lines in adjustments.values() for x in lines), ZERO)
                ),
                "usage_cost": str(month.cost),
            },
        )
    return billing


def _write(
    organization: Organization,
    billing: BillingPeriod,
    month: Month,
    allocation: Allocation,
    adjustments: dict[str, list[Line]],
) -> None:
    currency = organization.currency
    statements = {s.unit: s for s in allocation.statements}
    codes = sorted(set(statements) | set(adjustments))
    prefix = organization.slug.upper()
    rows: list[tuple[Statement, list[StatementLine]]] = []
    for seq, code in enumerate(codes, start=1):
        unit = month.units[code]
        drafted = statements.get(code)
        lines = list(drafted.lines) if drafted else []
        lines += adjustments.get(code, [])
        amount = sum((line.amount for line in lines), ZERO)
        models = {
            m.provider + "/" + m.model: m
            for u in month.usage.units
            if u.code == code
            for m in u.models
        }
        statement = Statement(
            organization=organization,
            period=billing,
            unit=unit,
            unit_code=unit.code,
            unit_name=unit.name,
            unit_owner=unit.owner_email,
            number=f"{prefix}-{billing.label}-{seq:04d}",
            sequence=seq,
            mode=unit.billing_mode,
            status=StatementStatus.DRAFT,
            central=unit.is_central,
            currency=currency,
            tier=(drafted.tier if drafted else None) or "",
            total=quantize(amount, currency),
            usage_cost=drafted.cost if drafted else ZERO,
            input_tokens=sum(m.input_tokens for m in models.values()),
            output_tokens=sum(m.output_tokens for m in models.values()),
            requests=drafted.requests if drafted else 0,
            org_cost=month.cost,
            org_unallocated=month.usage.unallocated,
            evidence=_evidence(month, code, drafted),
        )
        line_rows = [
            StatementLine(
                organization=organization,
                position=i,
                kind=line.kind,
                description=line.description[:500],
                quantity=storable(line.quantity, 12),
                unit_price=storable(line.unit_price, 20),
                amount=line.amount,
                ref="" if _month_of(line) else line.ref[:300],
                month=_month_of(line),
            )
            for i, line in enumerate(lines, start=1)
        ]
        statement.checksum = checksum(statement, line_rows)
        rows.append((statement, line_rows))
    created = Statement.objects.bulk_create([s for s, _ in rows], batch_size=500)
    all_lines = []
    for statement, (_, line_rows) in zip(created, rows, strict=True):
        for line in line_rows:
            line.statement = statement
        all_lines += line_rows
    StatementLine.objects.bulk_create(all_lines, batch_size=2000)


def _month_of(line: Line) -> str:
    return line.ref[len("month:") :] if line.ref.startswith("month:") else ""


def _evidence(month: Month, code: str, drafted) -> dict:
    ev = month.evidence.get(code)
    data = ev.as_json() if ev else {}
    if drafted and drafted.cost_per_outcome:
        data["cost_per_outcome"] = [[name, str(cost)] for name, cost in drafted.cost_per_outcome]
    return data


# Issue and close --------------------------------------------------------------------------


def issue_statements(
    organization: Organization,
    period: Period,
    *,
    actor: object = "system",
    today: dt.date | None = None,
    queue_pdfs: QueuePdfs | None = None,
) -> BillingPeriod:
    """Issue the drafts: they become immutable, the period goes to review and the dispute
    deadline is set five business days ahead in the organisation's calendar.

    `queue_pdfs` (the close's `tasks.queue_pdfs`) is given the statements after the issue
    commits (it marks each QUEUED as it queues it); without it their PDFs are rendered when
    downloaded."""
    with transaction.atomic():
        # This month and every earlier one, locked in month order (as outcome imports lock
        # theirs): two months that carry the same late usage cannot both be issued with it.
        locked = list(
            BillingPeriod.objects.select_for_update()
            .filter(organization=organization, month__lte=period.first)
            .order_by("month")
        )
        billing = locked[-1] if locked and locked[-1].month == period.first else None
        earlier = [p for p in locked[:-1] if p.state != PeriodState.OPEN]
        now = timezone.now()
        today = today or now.astimezone(organization.tz).date()
        blocker = issue_blocker(organization, billing, period, today)
        if blocker:
            raise CloseError(blocker)
        deadline = organization.dispute_deadline(today)
        period_state.mark_issued(billing, actor=actor, now=now, deadline=deadline)
        unit = BusinessUnit.objects.filter(pk=OuterRef("unit_id"))
        count = Statement.objects.filter(period=billing).update(
            status=StatementStatus.ISSUED,
            issued_at=now,
            dispute_deadline=deadline,
            # What the statements print about their units, as the units are now (a rename
            # since the drafts does not make them stale); frozen from here on.
            unit_name=Subquery(unit.values("name")[:1]),
            unit_owner=Subquery(unit.values("owner_email")[:1]),
        )
        log.record(
            organization=organization,
            actor=actor,
            action="billing.issue",
            obj=billing,
            after={"statements": count, "dispute_deadline": deadline.isoformat()},
        )
        _mark_reconciled(billing, earlier)
        if queue_pdfs:
            ids = list(Statement.objects.filter(period=billing).values_list("pk", flat=True))
            transaction.on_commit(partial(queue_pdfs, organization, ids))
    return billing


def issue_blocker(
    organization: Organization, billing: BillingPeriod | None, period: Period, today: dt.date
) -> str:
    """Why the month's drafts cannot be issued today ("" when they can)."""
    refusal = period_state.issue_refusal(billing, period, today)
    if refusal:
        return refusal
    reasons = stale_reasons(organization, billing, period, late=True)
    return period_state.stale_refusal(period, reasons) if reasons else ""


def _mark_reconciled(billing: BillingPeriod, earlier: list[BillingPeriod]) -> None:
    """The statements just issued carry the earlier months' late usage as the drafts read it
    (the issue checked it is still so): record those totals, so later drafts skip re-running
    a month until more usage arrives. Never a fresh read: usage committed after the check is
    not in these statements and must still reach a later month."""
    seen = billing.inputs.get("late_totals", {})
    for period in earlier:
        if period.label in seen:
            cost, requests = seen[period.label]
            period.reconciled_cost, period.reconciled_requests = Decimal(cost), requests
            period.save(update_fields=["reconciled_cost", "reconciled_requests"])


def close_period(
    organization: Organization,
    period: Period,
    *,
    actor: object = "system",
    override_reason: str = "",
    today: dt.date | None = None,
) -> BillingPeriod:
    """Make an issued period final. Refused unless it is in review, while anything holds one
    of its statements (an open dispute), and while a close gate refuses (`close_gates`: the
    dispute window is still open, ...) unless `override_reason` says why it must close anyway;
    the override is audited and stored on the period, and its statements show it."""
    override_reason = (override_reason or "").strip()
    if len(override_reason) > MAX_OVERRIDE:
        raise CloseError(f"override_reason: at most {MAX_OVERRIDE} characters")
    today = today or timezone.now().astimezone(organization.tz).date()
    with transaction.atomic():
        billing = (
            BillingPeriod.objects.select_for_update()
            .filter(organization=organization, month=period.first)
            .first()
        )
        refusal = period_state.close_refusal(billing, period.label)
        if refusal:
            raise CloseError(refusal)
        held = finality.holds(organization, billing.statements.values_list("pk", flat=True))
        if held:
            raise CloseError(f"{period.label} cannot be closed yet: {'; '.join(held.values())}")
        gated = close_gates.refusals(organization, billing, today)
        if gated and not override_reason:
            raise CloseError(f"{period.label} cannot be closed yet: {'; '.join(gated.values())}.")
        period_state.mark_closed(
            billing,
            actor=actor,
            override=override_reason if gated else "",
        )
        count = Statement.objects.filter(period=billing).update(status=StatementStatus.FINAL)
        final = list(Statement.objects.filter(period=billing).values_list("pk", flat=True))
        statements_final.send(
            sender=Statement, organization=organization, statement_ids=final, actor=actor
        )
        after: dict = {"statements": count}
        if gated:
            after |= {"override_reason": override_reason, "overridden": gated}
        log.record(
            organization=organization,
            actor=actor,
            action="billing.close_override" if gated else "billing.close",
            obj=billing,
            after=after,
        )
    return billing
