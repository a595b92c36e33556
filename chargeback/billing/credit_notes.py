"""Credit notes: a credit against an issued statement that is not final yet (its window open,
or held open by a dispute), e.g. for an accepted dispute. The statement stays as issued; the
unit owes its total less its credit notes (`dispute_story.story(...).net`).

`issue_credit_note` runs inside the caller's transaction (or its own), locks the statement,
numbers the note `<statement number>-CN<n>`, writes the audit event and sends
`signals.credit_note_issued` (wallets posts the credit). A `ref` is credited once: the same ref
again returns the note already issued. A final statement takes no credit note: a correction
then goes on the unit's next statement as a `credit` line.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from chargeback.audit import log
from chargeback.billing.models import CreditNote, Statement, StatementStatus
from chargeback.billing.period_state import actor_label
from chargeback.billing.signals import credit_note_issued
from chargeback.money import quantize


class CreditNoteRefused(Exception):
    """The statement cannot take a credit note (not issued, final, or over its total)."""


def credited(statement: Statement) -> Decimal:
    return sum((c.amount for c in CreditNote.objects.filter(statement=statement)), Decimal(0))


def issue_credit_note(
    *,
    statement: Statement,
    amount: Decimal,
    reason: str,
    ref: str,
    link: str = "",
    actor: object = "system",
) -> CreditNote:
    organization = statement.organization
    with transaction.atomic():
        locked = Statement.objects.select_for_update().get(pk=statement.pk)
        done = CreditNote.objects.filter(organization=organization, ref=ref).first()
        if done:
            return done
        if locked.status != StatementStatus.ISSUED:
            raise CreditNoteRefused(
                f"statement {locked.number} is {locked.status}: it takes no credit note"
            )
        value = quantize(amount, locked.currency)
        if value <= 0 or value > locked.total - credited(locked):
            raise CreditNoteRefused(
                f"amount: {value} is not between 0 and what statement {locked.number} still "
                f"owes ({locked.total - credited(locked)})"
            )
        count = CreditNote.objects.filter(statement=locked).count()
        note = CreditNote.objects.create(
            organization=organization,
            statement=locked,
            number=f"{locked.number}-CN{count + 1}",
            currency=locked.currency,
            amount=value,
            reason=reason[:2000],
            ref=ref,
            link=link[:300],
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            created_by_label=actor_label(actor),
        )
        log.record(
            organization=organization,
            actor=actor,
            action="billing.credit_note",
            obj=note,
            after={
                "statement": locked.number,
                "number": note.number,
                "amount": str(value),
                "ref": ref,
                "reason": note.reason,
            },
        )
        credit_note_issued.send(
            sender=CreditNote, organization=organization, credit_note=note, actor=actor
        )
    return note
