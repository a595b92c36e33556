"""Month-end close: draft the period's statements from the rollup and the policy, issue them
(the dispute window opens), and close the period (final).

Drafts are regenerated as a whole while the period is open, so statement numbers stay
gapless: `ACME-2026-10-0001` ... in unit-code order. Issuing freezes them; usage that arrives
later for an issued month flows into the next drafted month as adjustment lines labelled with
the month they correct.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal

import orjson
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from chargeback.allocation.engine import Allocation, Line, allocate
from chargeback.allocation.policy import Policy, parse_policy, policy_doc
from chargeback.allocation.queries import policy_for
from chargeback.audit import log
from chargeback.billing.inputs import Month, month_totals, month_usage
from chargeback.billing.models import (
    BillingPeriod,
    DraftStatus,
    OutcomeCount,
    PdfStatus,
    PeriodState,
    Statement,
    StatementLine,
    StatementStatus,
)
from chargeback.calendar import Period, dispute_deadline
from chargeback.money import quantize
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit
from chargeback.usage.models import QuarantinedEvent
from chargeback.wording import plural

ZERO = Decimal(0)
logger = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


class CloseError(Exception):
    """A close step that cannot run; the message says why and what to do."""


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
    """Open quarantined records whose timestamp falls in the month (org timezone)."""
    tz = organization.tz
    count = tokens = 0
    for raw in (
        QuarantinedEvent.objects.filter(organization=organization, status="open")
        .values_list("raw", flat=True)
        .iterator()
    ):
        record = _record(raw)
        day = _day(record.get("timestamp") or record.get("occurred_at"), tz)
        if day is None or not (period.first <= day <= period.last):
            continue
        count += 1
        for key in ("input_tokens", "output_tokens"):
            value = record.get(key) or (record.get("usage") or {}).get(key)
            if isinstance(value, int) and value > 0:
                tokens += value
    return QuarantineWarning(count, tokens) if count else None


def _record(raw: str) -> dict:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _day(value: object, tz: dt.tzinfo) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        return None
    return stamp.astimezone(tz).date()


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
    _refuse_issued(billing)
    report("reading", 0, 0)
    policy = policy_for(organization, period)
    inputs = draft_inputs(organization, period)
    month = month_usage(organization, period, fixed_fees=bool(policy.fee_fixed))
    report("allocating", 0, len(month.usage.units))
    allocation = allocate(month.usage, policy)
    late_totals: dict[str, tuple[Decimal, int]] = {}
    adjustments = late_adjustments(organization, period, late_totals)
    inputs["late"] = _late_digest(adjustments, late_totals)
    inputs["late_totals"] = {label: [str(c), r] for label, (c, r) in late_totals.items()}
    count = len({s.unit for s in allocation.statements} | set(adjustments))
    report("writing", 0, count)
    with transaction.atomic():
        billing = BillingPeriod.objects.select_for_update().get(pk=billing.pk)
        _refuse_issued(billing)
        Statement.objects.filter(period=billing).delete()
        _write(organization, billing, month, allocation, adjustments)
        billing.draft_status = DraftStatus.DONE
        billing.draft_stage = "done"
        billing.draft_done = billing.draft_total = count
        billing.draft_error = ""
        billing.drafted_at = timezone.now()
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


def _refuse_issued(billing: BillingPeriod) -> None:
    if billing.state != PeriodState.OPEN:
        raise CloseError(
            f"{billing.label} is already issued ({billing.get_state_display().lower()}): "
            "its statements are immutable; late usage goes to the next month as adjustments."
        )


def _digest(value: object) -> str:
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def draft_inputs(organization: Organization, period: Period) -> dict[str, str]:
    """Fingerprints of what a draft reads besides the usage rollup and the policy: the month's
    outcome counts and the units (codes, modes, central bucket, archived)."""
    outcomes = sorted(
        OutcomeCount.objects.filter(organization=organization, month=period.first).values_list(
            "unit_id", "outcome", "count"
        )
    )
    units = sorted(
        BusinessUnit.objects.filter(organization=organization).values_list(
            "code", "billing_mode", "is_central", "archived"
        )
    )
    return {"outcomes": _digest(outcomes), "units": _digest(units)}


def _late_digest(adjustments: dict[str, list[Line]], totals: dict[str, tuple[Decimal, int]]) -> str:
    """The adjustment lines and the earlier months' totals they were computed from: a month
    whose late usage moved at all changes it, even when no unit's amount changes."""
    lines = sorted(
        (code, line.ref, str(line.amount)) for code, ls in adjustments.items() for line in ls
    )
    return _digest([lines, sorted((k, str(c), r) for k, (c, r) in totals.items())])


def _late_now(organization: Organization, period: Period) -> str:
    totals: dict[str, tuple[Decimal, int]] = {}
    return _late_digest(late_adjustments(organization, period, totals), totals)


def stale_reasons(
    organization: Organization,
    billing: BillingPeriod,
    period: Period,
    *,
    usage: bool = True,
    late: bool = False,
) -> list[str]:
    """Why the drafts no longer match what they would be if generated now (empty when they
    are current). `usage` checks the month's rollup totals; `late` also re-checks the
    adjustments for earlier months, which re-runs the earlier months that changed (issuing
    and its confirmation page do; the close page does not)."""
    if "late" not in billing.inputs:
        return ["the drafts were generated before these checks existed"]
    reasons = []
    cost, requests = month_totals(organization, period) if usage else (None, None)
    if usage and (cost != billing.usage_cost or requests != billing.requests):
        delta = requests - billing.requests
        reasons.append(
            f"the month's usage changed ({delta:+,} request{'' if abs(delta) == 1 else 's'})"
        )
    if billing.policy != policy_doc(policy_for(organization, period)):
        reasons.append("the allocation policy in force for the month changed")
    now = draft_inputs(organization, period)
    if billing.inputs.get("outcomes") != now["outcomes"]:
        reasons.append("the month's outcome counts changed")
    if billing.inputs.get("units") != now["units"]:
        reasons.append("business units were added, archived or changed billing mode")
    if late and billing.inputs["late"] != _late_now(organization, period):
        reasons.append(
            "the adjustments for earlier months changed (late usage arrived, or another "
            "month carrying them was issued)"
        )
    return reasons


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


def storable(value: Decimal | None, places: int) -> Decimal | None:
    """The value as the database will give it back, so the checksum survives a round trip:
    at most `places` decimal places and 15 significant digits (SQLite keeps 15)."""
    if value is None:
        return None
    quantized = value.quantize(Decimal(1).scaleb(-places), context=Context(prec=60))
    return Context(prec=15, rounding=ROUND_HALF_EVEN).plus(quantized)


def _month_of(line: Line) -> str:
    return line.ref[len("month:") :] if line.ref.startswith("month:") else ""


def _evidence(month: Month, code: str, drafted) -> dict:
    ev = month.evidence.get(code)
    data = ev.as_json() if ev else {}
    if drafted and drafted.cost_per_outcome:
        data["cost_per_outcome"] = [[name, str(cost)] for name, cost in drafted.cost_per_outcome]
    return data


def checksum(statement: Statement, lines: list[StatementLine]) -> str:
    """SHA-256 of the statement's content (not of its status or PDF): number, unit, period,
    mode, currency, total and every line."""
    content = {
        "number": statement.number,
        "unit": statement.unit.code,
        "period": statement.period.label,
        "mode": statement.mode,
        "currency": statement.currency,
        "total": _plain(statement.total),
        "lines": [
            [
                line.position,
                line.kind,
                line.description,
                _plain(line.quantity),
                _plain(line.unit_price),
                _plain(line.amount),
                line.ref,
                line.month,
            ]
            for line in lines
        ],
    }
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _plain(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return format(Decimal(value).normalize(), "f")


def verify(statement: Statement) -> bool:
    """Whether the stored content still matches the statement's checksum."""
    return checksum(statement, list(statement.lines.order_by("position"))) == statement.checksum


# Late usage -------------------------------------------------------------------------------


def late_adjustments(
    organization: Organization,
    period: Period,
    totals_seen: dict[str, tuple[Decimal, int]] | None = None,
) -> dict[str, list[Line]]:
    """Adjustment lines for usage that reached earlier, already issued months after their
    statements were issued: the month is re-run with the policy it was issued under, and each
    unit's difference (less adjustments already carried) becomes a line labelled with it.

    `totals_seen` receives the rollup totals each re-run month was read with: what the
    adjustments account for, and so what its issue records as reconciled."""
    out: dict[str, list[Line]] = defaultdict(list)
    issued = BillingPeriod.objects.filter(
        organization=organization,
        month__lt=period.first,
        state__in=[PeriodState.IN_REVIEW, PeriodState.CLOSED],
    ).order_by("month")
    currency = organization.currency
    for earlier in issued:
        earlier_period = Period.parse(earlier.label)
        totals = month_totals(organization, earlier_period)
        if totals in {
            (earlier.usage_cost, earlier.requests),
            (earlier.reconciled_cost, earlier.reconciled_requests),
        }:
            continue
        if totals_seen is not None:
            totals_seen[earlier.label] = totals
        billed: dict[str, Decimal] = defaultdict(Decimal)
        for code, amount in (
            StatementLine.objects.filter(statement__period=earlier)
            .exclude(kind="adjustment", month__gt="")
            .values_list("statement__unit__code")
            .annotate(Sum("amount"))
            .order_by()
        ):
            billed[code] += amount
        # The month is re-run as it was issued: the units it billed and its central bucket,
        # whatever has been archived, added or moved since.
        central = (
            Statement.objects.filter(organization=organization, period=earlier, central=True)
            .values_list("unit__code", flat=True)
            .first()
        )
        policy = parse_policy(earlier.policy) if earlier.policy else Policy()
        month = month_usage(
            organization,
            earlier_period,
            fixed_fees=bool(policy.fee_fixed),
            members=frozenset(billed),
            central=central,
        )
        rerun = {s.unit: s.total for s in allocate(month.usage, policy).statements}
        for code, amount in (
            StatementLine.objects.filter(
                organization=organization,
                kind="adjustment",
                month=earlier.label,
                statement__period__month__gt=earlier.month,
            )
            .exclude(statement__status=StatementStatus.DRAFT)
            .values_list("statement__unit__code")
            .annotate(Sum("amount"))
            .order_by()
        ):
            billed[code] += amount
        for code in sorted(set(rerun) | set(billed)):
            delta = quantize(rerun.get(code, ZERO) - billed.get(code, ZERO), currency)
            if delta:
                out[code].append(
                    Line(
                        "adjustment",
                        f"Adjustment for {earlier.label}: usage that arrived after its "
                        "statements were issued",
                        delta,
                        ref=f"month:{earlier.label}",
                    )
                )
    return out


# Issue and close --------------------------------------------------------------------------


def issue_statements(
    organization: Organization,
    period: Period,
    *,
    actor: object = "system",
    today: dt.date | None = None,
) -> BillingPeriod:
    """Issue the drafts: they become immutable, the period goes to review and the dispute
    deadline is set five business days ahead in the organisation's calendar."""
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
        deadline = dispute_deadline(today, organization.country)
        billing.state = PeriodState.IN_REVIEW
        billing.issued_at = now
        billing.issued_by = actor if getattr(actor, "is_authenticated", False) else None
        billing.dispute_deadline = deadline
        billing.save()
        count = Statement.objects.filter(period=billing).update(
            status=StatementStatus.ISSUED,
            issued_at=now,
            dispute_deadline=deadline,
            pdf_status=PdfStatus.QUEUED,
        )
        log.record(
            organization=organization,
            actor=actor,
            action="billing.issue",
            obj=billing,
            after={"statements": count, "dispute_deadline": deadline.isoformat()},
        )
        _mark_reconciled(billing, earlier)
        ids = list(Statement.objects.filter(period=billing).values_list("pk", flat=True))
        transaction.on_commit(lambda: queue_pdfs(organization, ids))
    return billing


def issue_blocker(
    organization: Organization, billing: BillingPeriod | None, period: Period, today: dt.date
) -> str:
    """Why the month's drafts cannot be issued today ("" when they can)."""
    if billing is None or billing.draft_status != DraftStatus.DONE:
        return f"{period.label} has no draft statements: generate them first."
    if billing.state != PeriodState.OPEN:
        return f"{period.label} is already issued ({billing.get_state_display().lower()})."
    if period.last >= today:
        return (
            f"{period.label} is not over yet (it ends on {period.last:%-d %B %Y}): its drafts "
            "can be reviewed now, and issued from the first day of the next month."
        )
    reasons = stale_reasons(organization, billing, period, late=True)
    if reasons:
        return (
            f"The drafts for {period.label} are out of date: {'; '.join(reasons)}. "
            "Regenerate the drafts, then issue."
        )
    return ""


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


def queue_pdfs(organization: Organization, ids: list[int]) -> int:
    """Queue the statements' PDFs; returns how many were queued. A statement is marked QUEUED
    only as it is queued, and FAILED if queueing it fails (the broker is down; in-process, the
    render itself failed), so none is left waiting for a task that does not exist."""
    from chargeback.billing.tasks import render_statement_pdf

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


def close_period(
    organization: Organization, period: Period, *, actor: object = "system"
) -> BillingPeriod:
    """Make an issued period final. Refused unless it is in review."""
    with transaction.atomic():
        billing = (
            BillingPeriod.objects.select_for_update()
            .filter(organization=organization, month=period.first)
            .first()
        )
        if billing is None or billing.state == PeriodState.OPEN:
            raise CloseError(f"{period.label} is not issued yet: issue its statements first.")
        if billing.state == PeriodState.CLOSED:
            raise CloseError(f"{period.label} is already closed.")
        billing.state = PeriodState.CLOSED
        billing.closed_at = timezone.now()
        billing.closed_by = actor if getattr(actor, "is_authenticated", False) else None
        billing.save()
        count = Statement.objects.filter(period=billing).update(status=StatementStatus.FINAL)
        log.record(
            organization=organization,
            actor=actor,
            action="billing.close",
            obj=billing,
            after={"statements": count},
        )
    return billing
