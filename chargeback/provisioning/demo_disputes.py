"""The demo's disputes: on the last closed month, the support team lead disputed a few charges
within the review window and finance resolved each, so the pages show every outcome (and the
next draft carries the credit and adjustment lines): accepted (absorbed centrally), partially
accepted and moved to another unit (wrong owner), rejected with a reason, and withdrawn.

Last month is issued and in its review window, with disputes still in progress
(`seed_live_disputes`): one open, one under review and one waiting for the team's answer, so
the inbox, "My disputes", the counts and the reminders have something to show."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from chargeback.billing.models import Statement
from chargeback.calendar import Period
from chargeback.disputes import operations as ops
from chargeback.money import quantize
from chargeback.tenancy.models import Membership, Organization
from chargeback.units.models import BusinessUnit

LEAD = "lead.support@acme.example"
FINANCE = "finance@acme.example"
# unit, reason, share of the statement disputed, outcome, share accepted, to unit, texts
CASES = [
    ("SUP-T1", "retry_storm", "0.08", "accepted", None, None,
     "A retry loop in the summarizer on the 12th tripled our requests for an hour.",
     "Confirmed in the gateway log: the platform absorbs the retries."),
    ("SUP-AUTO", "wrong_owner", "0.10", "partially_accepted", "0.06", "SALES-EMEA",
     "Part of this traffic is the Sales EMEA assistant using our key.",
     "Key gk-support-prod was shared with Sales EMEA for two weeks: 60% moves to them."),
    ("SUP-T1", "pricing", "0.05", "rejected", None, None,
     "The gpt-4o price looks higher than last month.",
     "The price is the provider's published price for the month; no change."),
    ("SUP-AUTO", "tags", "0.03", "withdrawn", None, None,
     "Some events miss the service tag.", "Found the cause on our side."),
]  # fmt: skip


def _open(lead, month: Period, code: str, reason: str, share: str, text: str, opened_on: dt.date):
    """The team lead disputes `share` of unit `code`'s statement of `month`: (statement,
    dispute), or None when the unit has no statement with a positive total."""
    statement = (
        Statement.objects.filter(
            organization=lead.organization, period__month=month.first, unit__code=code
        )
        .select_related("unit")
        .first()
    )
    if statement is None or statement.total <= 0:
        return None
    amount = quantize(statement.total * Decimal(share), statement.currency)
    if amount <= 0:
        return None
    dispute = ops.open_dispute(
        membership=lead, statement=statement, amount=amount, reason=reason,
        description=text, today=opened_on,
    )  # fmt: skip
    return statement, dispute


def seed_disputes(org: Organization, month: Period, *, issued_on: dt.date) -> int:
    """Open and settle the demo's disputes on `month`'s statements; returns how many."""
    lead = _member(org, LEAD)
    finance = _member(org, FINANCE)
    if lead is None or finance is None:
        return 0
    opened_on = org.calendar.add(issued_on, 1)
    settled_on = org.calendar.add(issued_on, 3)
    count = 0
    for code, reason, share, outcome, accepted, to_code, text, answer in CASES:
        opened = _open(lead, month, code, reason, share, text, opened_on)
        if opened is None:
            continue
        statement, dispute = opened
        count += 1
        if outcome == "withdrawn":
            ops.withdraw(membership=lead, dispute=dispute, text=answer, today=opened_on)
            continue
        partial = (
            quantize(statement.total * Decimal(accepted), statement.currency) if accepted else None
        )
        to_unit = (
            BusinessUnit.objects.filter(organization=org, code=to_code).first() if to_code else None
        )
        ops.start_review(membership=finance, dispute=dispute, today=opened_on)
        ops.resolve(
            membership=finance, dispute=dispute, outcome=outcome, amount=partial,
            to_unit=to_unit, text=answer, today=settled_on,
        )  # fmt: skip
    return count


# unit, reason, share of the statement disputed, how far finance got, texts
LIVE = [
    ("SUP-T1", "duplicate", "0.04", "open",
     "The nightly digest job ran twice on the 3rd; the second run's calls are duplicates.", ""),
    ("SUP-AUTO", "shared_allocation", "0.05", "under_review",
     "Shared retrieval is split by requests, but most of ours are cache hits.", ""),
    ("SUP-T1", "tags", "0.02", "info_requested",
     "Calls without a service tag were put on our statement.",
     "Which service sends the calls from key gk-support-prod without a tag?"),
]  # fmt: skip


def seed_live_disputes(
    org: Organization, month: Period, *, issued_on: dt.date, today: dt.date
) -> int:
    """Disputes in progress on `month` (issued on `issued_on`); returns how many."""
    lead = _member(org, LEAD)
    finance = _member(org, FINANCE)
    if lead is None or finance is None:
        return 0
    opened_on = min(org.calendar.add(issued_on, 1), max(today, issued_on))
    count = 0
    for code, reason, share, state, text, question in LIVE:
        opened = _open(lead, month, code, reason, share, text, opened_on)
        if opened is None:
            continue
        _statement, dispute = opened
        count += 1
        if state in ("under_review", "info_requested"):
            ops.start_review(membership=finance, dispute=dispute, today=opened_on)
        if state == "info_requested":
            ops.request_info(membership=finance, dispute=dispute, text=question, today=opened_on)
    return count


def _member(org: Organization, email: str) -> Membership | None:
    return (
        Membership.objects.filter(organization=org, user__email=email)
        .select_related("user", "organization")
        .first()
    )
