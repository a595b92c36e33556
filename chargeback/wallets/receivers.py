"""Billing's signals, answered by wallets (billing may not import wallets)."""

from __future__ import annotations

from django.dispatch import receiver

from chargeback.billing.signals import statements_final
from chargeback.wallets.funding import post_statements


@receiver(statements_final, dispatch_uid="wallets.post_final_statements")
def post_final_statements(sender, *, organization, statement_ids, actor="system", **kwargs):
    """Inside the transaction that made them final: their chargeback entries."""
    post_statements(organization=organization, statement_ids=statement_ids, actor=actor)
