"""What the months of a showback window charge, beside their usage: the lines of the issued
(or final) statements of each month, and for a month not issued yet the lines its draft
statements would have today under the policy in force (built as `billing.preview` and the
close build them: the same rollup input, engine and late adjustments). `dashboards/charged.py`
sums them by kind."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Sum

from chargeback.allocation.engine import allocate
from chargeback.allocation.queries import policy_for
from chargeback.billing.inputs import month_usage
from chargeback.billing.late import late_adjustments
from chargeback.billing.models import BillingPeriod, PeriodState, StatementLine, StatementStatus
from chargeback.calendar import Period
from chargeback.dashboards.charged import LineSum, MonthCharge, months
from chargeback.tenancy.models import Organization

MAX_PREVIEWS = 1  # months after the last issued one that a window previews: the open one
ISSUED = {PeriodState.IN_REVIEW: "issued", PeriodState.CLOSED: "final"}


def window_months(first: dt.date, last: dt.date) -> list[Period]:
    out, day = [], first.replace(day=1)
    while day <= last:
        out.append(Period.of(day))
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return out


def charged_months(
    organization: Organization,
    *,
    first: dt.date,
    last: dt.date,
    reach: set[int] | None,
    unit_ids: set[int] | None,
    names: dict[int, str],
) -> list[MonthCharge]:
    """Usage and charge per month the window touches, for `unit_ids` (None: every unit),
    within `reach` (a team lead's units, as `billing.queries.visible_statements` limits them;
    None: every unit). Issued and final statements only: drafts are not charges yet."""
    periods = window_months(first, last)
    states = dict(
        BillingPeriod.objects.filter(
            organization=organization, month__in=[p.first for p in periods]
        ).values_list("month", "state")
    )
    bases = {p.label: ISSUED[states[p.first]] for p in periods if states.get(p.first) in ISSUED}
    ids = reach if unit_ids is None else unit_ids if reach is None else reach & unit_ids
    rows = StatementLine.objects.filter(
        organization=organization,
        statement__period__month__in=[p.first for p in periods if p.label in bases],
        statement__status__in=[StatementStatus.ISSUED, StatementStatus.FINAL],
    )
    if ids is not None:
        rows = rows.filter(statement__unit_id__in=sorted(ids))
    lines, found = [], {}
    for pk, month, unit_id, kind, amount in (
        rows.values_list("statement_id", "statement__period__month", "statement__unit_id", "kind")
        .annotate(amount=Sum("amount"))
        .order_by()
    ):
        lines.append(LineSum(f"{month:%Y-%m}", unit_id, kind, amount))
        found[(f"{month:%Y-%m}", unit_id)] = pk
    latest = max(bases, default="")  # months before an issued one are not previewed
    for period in [p for p in periods if p.label > latest][-MAX_PREVIEWS:]:
        bases[period.label] = "preview"
        lines.extend(_preview(organization, period, ids))
    return months(lines, bases=bases, names=names, statements=found, currency=organization.currency)


def _preview(org: Organization, period: Period, allowed: set[int] | None) -> list[LineSum]:
    """The lines draft statements for `period` would have today, per unit."""
    policy = policy_for(org, period)
    # the month's grouped rollup rows are memoised under its totals (no statement evidence)
    month = month_usage(
        org, period, fixed_fees=bool(policy.fee_fixed), evidence=False, memo=True,
        methods=policy.confidence_min is not None,
    )  # fmt: skip
    ids = {code: unit.pk for code, unit in month.units.items()}
    out = []
    for statement in allocate(month.usage, policy).statements:
        for line in statement.lines:
            out.append((statement.unit, line.kind, line.amount))
    for code, extra in late_adjustments(org, period).items():
        for line in extra:
            out.append((code, line.kind, line.amount))
    return [
        LineSum(period.label, ids[code], kind, Decimal(amount))
        for code, kind, amount in out
        if code in ids and (allowed is None or ids[code] in allowed)
    ]
