"""What a resolved dispute did to the money, for its page (both sides read it): the credit note
against the disputed statement, the `credit` / `adjustment` lines it carried onto later
statements (ref `dispute:<id>`), and, for an unknown owner absorbed centrally, the absorb
policy it was absorbed under and its enforcement item. A statement is linked only when the
member may see it (a team lead sees its own units' statements, not the central bucket's)."""

from __future__ import annotations

from dataclasses import dataclass, field

from chargeback.billing.models import CreditNote, StatementLine
from chargeback.billing.queries import visible_statements
from chargeback.disputes.models import Dispute, EnforcementItem, Reason, State
from chargeback.tenancy.models import Membership


@dataclass
class Consequences:
    credit_note: CreditNote | None = None
    lines: list[tuple[StatementLine, bool]] = field(default_factory=list)  # (line, visible)
    absorbed: bool = False
    policy: str = ""
    item: EnforcementItem | None = None
    pending: bool = False  # credited, but no statement carries it yet and no credit note

    @property
    def any(self) -> bool:
        return bool(self.credit_note or self.lines or self.absorbed or self.pending)


def consequences(dispute: Dispute, membership: Membership) -> Consequences:
    out = Consequences()
    if dispute.state not in (State.ACCEPTED, State.PARTIALLY_ACCEPTED) or not dispute.credited:
        return out
    org = dispute.organization
    ref = f"dispute:{dispute.pk}"
    out.credit_note = (
        CreditNote.objects.filter(organization=org, ref=ref).select_related("statement").first()
    )
    lines = list(
        StatementLine.objects.filter(organization=org, ref=ref)
        .select_related("statement__unit", "statement__period")
        .order_by("statement__period__month", "pk")
    )
    named = {x.statement_id for x in lines} | {getattr(out.credit_note, "statement_id", None)}
    seen = set(
        visible_statements(org, membership)
        .filter(pk__in=[pk for pk in named if pk is not None])
        .values_list("pk", flat=True)
    )
    if out.credit_note and out.credit_note.statement_id not in seen:
        out.credit_note = None
    out.lines = [(x, x.statement_id in seen) for x in lines]
    if dispute.reason == Reason.WRONG_OWNER and dispute.reassigned_to_id is None:
        out.absorbed = True
        out.item = EnforcementItem.objects.filter(organization=org, dispute=dispute).first()
        out.policy = out.item.policy if out.item else org.dispute_absorb_policy
    out.pending = not out.credit_note and not out.lines
    return out
