"""Signals billing sends for the apps above it (which billing may not import).

`statements_final`: statements became final, sent inside the transaction that made them so,
with `organization`, `statement_ids` and `actor`. A receiver's writes commit or roll back with
that transaction (wallets posts each chargeback statement to its wallet this way)."""

from django.dispatch import Signal

statements_final = Signal()
