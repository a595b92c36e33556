"""Reused reads: the disputes a member may see, their rows for lists and json, overdue ones."""

from __future__ import annotations

import datetime as dt
import statistics

from django.db.models import QuerySet

from chargeback.calendar import Period
from chargeback.disputes.models import Dispute, State
from chargeback.money import quantize
from chargeback.tenancy.models import Membership, Organization, Role
from chargeback.units.queries import visible_unit_ids


def disputes_of(organization: Organization, *, period: Period | None = None) -> QuerySet[Dispute]:
    qs = Dispute.objects.filter(organization=organization).select_related(
        "statement__period", "unit", "reassigned_to", "opened_by"
    )
    if period is not None:
        qs = qs.filter(statement__period__month=period.first)
    return qs.order_by("pk")


def visible_disputes(membership: Membership, **filters) -> QuerySet[Dispute]:
    """A team lead's: its units' disputes; everyone else's: the organisation's."""
    qs = disputes_of(membership.organization, **filters)
    ids = visible_unit_ids(membership)
    return qs if ids is None else qs.filter(unit_id__in=ids)


def nav_badge(membership: Membership) -> tuple[str | None, int]:
    """The navigation's Disputes item: finance sees the open ones (finance still owes or
    waits for an answer on); a team lead "My disputes" and its units' open ones."""
    active = Dispute.objects.filter(
        organization=membership.organization,
        state__in=(State.OPEN, State.UNDER_REVIEW, State.INFO_REQUESTED),
    )
    if membership.role != Role.TEAM_LEAD:
        return None, active.count()
    units = list(active.values_list("unit_id", flat=True))  # one query when there are none
    reach = (visible_unit_ids(membership) or set()) if units else set()
    return "My disputes", sum(1 for unit_id in units if unit_id in reach)


def is_overdue(dispute: Dispute, today: dt.date) -> bool:
    """Finance owes an answer and its response date has passed (the clock is not paused)."""
    return dispute.state in (State.OPEN, State.UNDER_REVIEW) and today > dispute.respond_by


def dispute_json(dispute: Dispute) -> dict:
    """One dispute as `disputes --format json` lists it (DESIGN 6.3)."""
    currency = dispute.statement.currency
    return {
        "id": dispute.pk,
        "statement": dispute.statement.number,
        "unit": dispute.unit.code,
        "state": dispute.state,
        "reason": dispute.reason,
        "amount": str(quantize(dispute.amount, currency)),
        "opened_on": dispute.opened_on.isoformat(),
        "respond_by": dispute.respond_by.isoformat(),
        "outcome": dispute.outcome or None,
        "credited": None if dispute.credited is None else str(quantize(dispute.credited, currency)),
        "reassigned_to": dispute.reassigned_to.code if dispute.reassigned_to else None,
    }


REPORT_COLUMNS = ("reason", "outcome", "disputes", "disputed", "credited", "median_days")


def period_report(organization: Organization, period: Period) -> list[dict]:
    """The month's disputes by reason and outcome (its state while unresolved): how many, the
    amount disputed and credited, and the median business days from opening to resolution."""
    cal = organization.calendar
    groups: dict[tuple[str, str], list[Dispute]] = {}
    for d in disputes_of(organization, period=period):
        groups.setdefault((d.reason, d.outcome or d.state), []).append(d)
    rows = []
    for (reason, outcome), items in sorted(groups.items()):
        days = sorted(cal.between(d.opened_on, d.resolved_on) for d in items if d.resolved_on)
        rows.append(
            {
                "reason": reason,
                "outcome": outcome,
                "disputes": len(items),
                "disputed": str(quantize(sum(d.amount for d in items), organization.currency)),
                "credited": str(
                    quantize(sum(d.credited or 0 for d in items), organization.currency)
                ),
                "median_days": str(statistics.median(days)) if days else None,
            }
        )
    return rows
