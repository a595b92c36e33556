"""What a resolution does besides changing the dispute, inside the resolving transaction:

- accepted or partially accepted, on a chargeback statement that is not final yet: a credit
  note against that statement for the credited amount (`billing.credit_notes`; wallets posts
  the credit to the unit's wallet). The amount still moves to the right unit, or to the
  central bucket, as an `adjustment` on its next statement (`carry`), so the organisation's
  total is unchanged. On a final statement the credit is a `credit` line on the unit's next
  statement instead (`carry`).
- a `wrong_owner` dispute accepted without a right unit: the central bucket absorbs the amount
  under the organisation's absorb policy, and the key or tag behind it (the one finance
  named, else the one its requests show) is listed for enforcement (`enforcement`).
"""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from chargeback.billing.credit_notes import CreditNoteRefused, issue_credit_note
from chargeback.billing.models import StatementMode, StatementStatus
from chargeback.disputes import enforcement
from chargeback.disputes.models import Dispute, Reason, State
from chargeback.tenancy.models import Membership

CREDITED = (State.ACCEPTED, State.PARTIALLY_ACCEPTED)


def ref(dispute: Dispute) -> str:
    return f"dispute:{dispute.pk}"


def apply(
    dispute: Dispute,
    membership: Membership,
    outcome: str,
    day: dt.date,
    *,
    named: tuple[str, str] | None = None,
) -> None:
    if outcome not in CREDITED or not dispute.credited:
        return
    if dispute.reason == Reason.WRONG_OWNER and dispute.reassigned_to is None:
        enforcement.absorb(dispute, day, actor=membership.user, named=named)
    statement = dispute.statement
    if statement.mode != StatementMode.CHARGEBACK or statement.status != StatementStatus.ISSUED:
        return  # showback moves no money; a final statement is credited on the next one
    link = reverse(
        "disputes:dispute-detail",
        kwargs={"org_slug": dispute.organization.slug, "dispute_id": dispute.pk},
    )
    try:
        _credit(dispute, membership, outcome, day, link)
    except CreditNoteRefused as exc:
        raise DisputeOutcomeRefused(str(exc)) from None


class DisputeOutcomeRefused(Exception):
    """The outcome cannot be applied (the operation turns it into a DisputeError)."""


def _credit(dispute: Dispute, membership: Membership, outcome: str, day: dt.date, link: str):
    statement = dispute.statement
    issue_credit_note(
        statement=statement,
        amount=dispute.credited,
        reason=f"Dispute {dispute.pk} ({dispute.get_reason_display().lower()}), "
        f"{State(outcome).label.lower()} on {day:%-d %B %Y}",
        ref=ref(dispute),
        link=link,
        actor=membership.user,
    )
