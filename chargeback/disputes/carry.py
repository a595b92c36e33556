"""What disputes tell billing (registered in `apps.DisputesConfig.ready`):

- `open_disputes_hold`: an issued statement with an open dispute does not become final;
- `carried_lines`: an accepted (or partially accepted) dispute on a chargeback statement puts
  a `credit` line (minus the credited amount) on the disputed unit's next drafted statement
  (unless a credit note on the disputed statement credited it already: `outcomes`),
  and an `adjustment` line (plus the same amount) on the unit it was reassigned to, or on the
  central bucket, which absorbs it otherwise. The organisation's total is unchanged, to the
  cent. A dispute is carried until an issued statement carries it (its lines' `ref` is
  `dispute:<id>`), so a resolution after a month's draft reaches a later one. Disputes on a
  showback statement correct attribution but move no money: they carry no lines.
"""

from __future__ import annotations

from collections import defaultdict

from chargeback.allocation.engine import Line
from chargeback.billing.models import CreditNote, StatementLine, StatementMode, StatementStatus
from chargeback.calendar import Period
from chargeback.disputes.models import Dispute, Reason, State
from chargeback.disputes.workflow import ACTIVE
from chargeback.money import quantize
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit

PREFIX = "dispute:"


def open_disputes_hold(organization: Organization, statement_ids: list[int]) -> dict[int, str]:
    rows = (
        Dispute.objects.filter(
            organization=organization, statement_id__in=statement_ids, state__in=ACTIVE
        )
        .order_by("pk")
        .values_list("statement_id", "pk", "statement__number")
    )
    out: dict[int, str] = {}
    for statement_id, pk, number in rows:
        out.setdefault(statement_id, f"statement {number} has an open dispute ({pk})")
    return out


def carried_lines(organization: Organization, period: Period) -> dict[str, list[Line]]:
    disputes = list(
        Dispute.objects.filter(
            organization=organization,
            state__in=(State.ACCEPTED, State.PARTIALLY_ACCEPTED),
            statement__mode=StatementMode.CHARGEBACK,
            statement__period__month__lt=period.first,
            credited__gt=0,
        )
        .select_related("statement__period", "unit", "reassigned_to")
        .order_by("pk")
    )
    if not disputes:
        return {}
    carried = set(
        StatementLine.objects.filter(
            organization=organization,
            ref__startswith=PREFIX,
            statement__status__in=(StatementStatus.ISSUED, StatementStatus.FINAL),
        )
        .exclude(statement__period__month=period.first)
        .values_list("ref", flat=True)
    )
    # Credited already by a credit note on the disputed statement: only the move is carried.
    noted = set(
        CreditNote.objects.filter(organization=organization, ref__startswith=PREFIX).values_list(
            "ref", flat=True
        )
    )
    central = BusinessUnit.objects.filter(organization=organization, is_central=True).first()
    out: dict[str, list[Line]] = defaultdict(list)
    for d in disputes:
        ref = f"{PREFIX}{d.pk}"
        target = d.reassigned_to or central
        if ref in carried or target is None:
            continue
        amount = quantize(d.credited, organization.currency)
        month = d.statement.period.label
        moved = "reassigned" if d.reassigned_to else "absorbed centrally"
        if d.reason == Reason.WRONG_OWNER and not d.reassigned_to:
            moved = f"no owner known, absorbed centrally ({organization.dispute_absorb_policy})"
        if ref not in noted:
            out[d.unit.code].append(
                Line(
                    "credit",
                    f"Credit for {month}: dispute {d.pk} on {d.statement.number} "
                    f"({d.get_reason_display().lower()}), {d.get_state_display().lower()}",
                    -amount,
                    ref=ref,
                )
            )
        out[target.code].append(
            Line(
                "adjustment",
                f"Adjustment for {month}: dispute {d.pk} on {d.statement.number}, "
                f"{moved} from {d.unit.code}",
                amount,
                ref=ref,
            )
        )
    return dict(out)
