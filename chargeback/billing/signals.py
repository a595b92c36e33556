"""Signals billing sends for the apps above it (which billing may not import).

`statements_final`: statements became final, sent inside the transaction that made them so,
with `organization`, `statement_ids` and `actor`. A receiver's writes commit or roll back with
that transaction (wallets posts each chargeback statement to its wallet this way).

Apps at the level of wallets (disputes) send `credit_note_issued` through
`credit_notes.issue_credit_note`, so that wallets hears of credits without their importing
each other.

`statements_issued`: a month's statements were issued, sent after the issue commits (a
receiver that fails is logged and does not undo the issue), with `organization`, `period_id`,
`deadline` (the last day to dispute) and `actor` (the disputes app tells each unit's people)."""

from django.dispatch import Signal

statements_final = Signal()

# `credit_note_issued`: a credit note was issued against a statement (`credit_notes.issue`),
# sent inside its transaction with `organization`, `credit_note` and `actor` (wallets posts the
# credit to the unit's wallet, once, keyed by the credit note).
credit_note_issued = Signal()
statements_issued = Signal()
