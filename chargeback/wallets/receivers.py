"""Billing's signals, answered by wallets (billing may not import wallets)."""

from __future__ import annotations

from django.dispatch import receiver

from chargeback.billing.signals import credit_note_issued, statements_final
from chargeback.wallets.funding import post_credit_note, post_statements


@receiver(statements_final, dispatch_uid="wallets.post_final_statements")
def post_final_statements(sender, *, organization, statement_ids, actor="system", **kwargs):
    """Inside the transaction that made them final: their chargeback entries."""
    post_statements(organization=organization, statement_ids=statement_ids, actor=actor)


@receiver(credit_note_issued, dispatch_uid="wallets.post_credit_note")
def post_issued_credit_note(sender, *, organization, credit_note, actor="system", **kwargs):
    """Inside the credit note's transaction: the credit on the unit's wallet, once."""
    post_credit_note(organization=organization, credit_note=credit_note, actor=actor)
