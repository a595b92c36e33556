"""The demo's budgets, sized from the seeded spend so that alerts fire on it: Support is at 85%
of its budget (50% and 80% fired, and the forecast goes over), Product & Engineering with its
teams at 55%, Agent Lab over budget, and Search comfortably inside. Then the check runs once,
as beat would (the alerts' emails go to the console backend)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_UP, Decimal

from chargeback.budgets.checks import check_budgets
from chargeback.budgets.models import Budget
from chargeback.budgets.setting import set_budget
from chargeback.budgets.status import budget_statuses
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit

# code -> (share of the budget already spent, or None: sized from the forecast), hard
PLAN = {
    "SUP": (Decimal("0.85"), False),
    "PROD": (Decimal("0.55"), False),
    "AGENTS": (Decimal("1.10"), True),
    "SEARCH": (None, False),
}


def seed_budgets(org: Organization, *, today: dt.date, actor: str) -> int:
    """Set the demo budgets and run the check; returns the number of alerts fired."""
    units = {u.code: u for u in BusinessUnit.objects.filter(organization=org, code__in=PLAN)}
    drafts = [
        Budget(organization=org, unit=units[code], amount=Decimal(1), currency=org.currency)
        for code in PLAN
        if code in units
    ]
    for status in budget_statuses(org, today=today, budgets=drafts):
        code = status.budget.unit.code
        used, hard = PLAN[code]
        if used is None or status.spend <= 0:
            base = max(status.forecast.point, status.prior, Decimal(1)) * Decimal("1.5")
        else:
            base = status.spend / used
        set_budget(
            organization=org,
            unit=status.budget.unit,
            amount=base.quantize(Decimal("0.01"), rounding=ROUND_UP),
            hard=hard,
            include_descendants=True,
            actor=actor,
        )
    return len(check_budgets(organization=org, today=today, actor=actor))
