"""What a statement's page and PDF say about the disputes on it (registered with billing's
`dispute_story` in `apps.DisputesConfig.ready`): one sentence per dispute, in opening order,
with its state and outcome."""

from __future__ import annotations

from chargeback.billing.models import Statement
from chargeback.disputes.models import Dispute, State
from chargeback.disputes.workflow import ACTIVE
from chargeback.money import format_money
from chargeback.tenancy.models import Organization


def notes(organization: Organization, statement: Statement) -> list[str]:
    rows = Dispute.objects.filter(organization=organization, statement=statement).select_related(
        "reassigned_to"
    )
    return [_sentence(d, statement.currency) for d in rows.order_by("pk")]


def _sentence(d: Dispute, currency: str) -> str:
    head = (
        f"Dispute {d.pk} ({d.get_reason_display().lower()}, "
        f"{format_money(d.amount, currency)} disputed, opened {d.opened_on:%-d %B %Y})"
    )
    if d.state in ACTIVE:
        return f"{head}: {d.get_state_display().lower()}; finance responds by {d.respond_by:%-d %B %Y}."
    if d.state == State.WITHDRAWN:
        return f"{head}: withdrawn."
    on = f" on {d.resolved_on:%-d %B %Y}" if d.resolved_on else ""
    if d.state == State.REJECTED:
        return f"{head}: rejected{on}: {d.resolution}"
    credited = format_money(d.credited or 0, currency)
    where = ""
    if d.reassigned_to:
        where = f"; the amount moves to {d.reassigned_to.code}"
    return f"{head}: {d.get_state_display().lower()}{on}, {credited} credited{where}."
