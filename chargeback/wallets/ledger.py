"""The ledger's one write path: post_entry, transfer and post_chargeback (reservations are in
`chargeback.wallets.reservations`, on the same `append`).

Each verb runs in one `transaction.atomic()`, locks the wallet rows it writes
(`select_for_update`, in id order so two transfers never deadlock), appends its entries, updates
the wallet's cached balance and reserved sums, and writes its audit event. An idempotency key is
unique per organisation: posting it again returns the first entry and writes nothing; using it
for a different entry is an error. Bad input is a ValidationError naming the field; nothing is
written.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from chargeback.audit.log import record
from chargeback.sql import Insert, Update
from chargeback.wallets.amounts import read_amount
from chargeback.wallets.models import EntryType, LedgerEntry, Reservation, Wallet

ENTRY = Insert(LedgerEntry)  # append-only: the model's save() would only check it is new
SUMS = Update(Wallet, "balance", "reserved")
POSTABLE = (EntryType.FUNDING, EntryType.TOP_UP, EntryType.ADJUSTMENT)


def actor_fields(actor: Any) -> dict:
    user = actor if getattr(actor, "is_authenticated", False) else None
    label = (getattr(actor, "email", "") or getattr(actor, "username", "")) if user else str(actor)
    return {"created_by": (label or "system")[:254], "created_by_user": user}


def lock(*wallets: Wallet) -> list[Wallet]:
    """The wallets' rows, locked for the transaction, fresh, in the order given."""
    ids = sorted({w.pk for w in wallets})
    rows = {
        w.pk: w
        for w in Wallet.objects.select_related("unit", "organization")
        .select_for_update(of=("self",))
        .filter(organization=wallets[0].organization_id, pk__in=ids)
        .order_by("pk")
    }
    return [rows[w.pk] for w in wallets]


def append(
    *,
    wallet: Wallet,
    type: str,
    actor: Any,
    amount: Decimal = Decimal(0),
    pending: Decimal = Decimal(0),
    reason: str = "",
    key: str = "",
    transfer: uuid.UUID | None = None,
    reservation: Reservation | None = None,
    statement: Any = None,
    wait: bool = True,
) -> LedgerEntry:
    """One entry on a wallet locked by the caller's transaction, and the cached sums with it.
    `wait=False`: the entry is sent without reading its id back (`chargeback.sql.send`)."""
    entry = ENTRY.save(LedgerEntry(
        organization_id=wallet.organization_id,
        wallet=wallet,
        type=type,
        amount=amount,
        pending=pending,
        reason=reason[:500],
        idempotency_key=key,
        transfer=transfer,
        reservation=reservation,
        statement=statement,
        **actor_fields(actor),
    ), wait=wait)  # fmt: skip
    wallet.balance += amount
    wallet.reserved += pending
    SUMS.save(wallet)
    return entry


class ReadOnlyWallet(ValidationError):
    """The wallet's unit is archived: its wallet and ledger are kept, read-only."""

    reason = "archived_unit"


def refuse_read_only(wallet: Wallet, field: str = "wallet") -> None:
    if wallet.read_only:
        raise ReadOnlyWallet(
            {field: f"unit {wallet.unit.code} is archived: its wallet is read-only"}
        )


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "a reason is required"})
    if len(reason) > 500:
        raise ValidationError({"reason": "at most 500 characters"})
    return reason


def _key(key: str) -> str:
    key = (key or "").strip()
    if len(key) > 180:
        raise ValidationError({"key": "an idempotency key has at most 180 characters"})
    return key


@contextlib.contextmanager
def _key_race(key: str) -> Iterator[None]:
    """The same key posted at the same moment on another wallet: the loser's error names it."""
    try:
        yield
    except IntegrityError:
        raise ValidationError({"key": f'"{key}" is being used by another entry'}) from None


def _replay(wallet: Wallet, key: str) -> list[LedgerEntry]:
    if not key:
        return []
    return list(
        LedgerEntry.objects.filter(organization_id=wallet.organization_id)
        .filter(idempotency_key__in=[key, f"{key}/in"])
        .order_by("pk")
    )


def post_entry(
    *, wallet: Wallet, type: str, amount: object, reason: str, actor: Any, key: str = ""
) -> LedgerEntry:
    """Post funding, a top-up (positive) or an adjustment (either sign) to `wallet`."""
    if type not in POSTABLE:
        raise ValidationError(
            {"type": f'"{type}" cannot be posted: use one of {", ".join(POSTABLE)}'}
        )
    value = read_amount(amount, wallet.currency)
    if value == 0 or (type != EntryType.ADJUSTMENT and value < 0):
        raise ValidationError({"amount": "must be more than zero"})
    reason, key = _reason(reason), _key(key)
    with _key_race(key), transaction.atomic():
        (locked,) = lock(wallet)
        done = _replay(locked, key)
        if done:
            first = done[0]
            if (first.wallet_id, first.type, first.amount) != (locked.pk, type, value):
                raise ValidationError({"key": f'"{key}" was used for another entry'})
            return first
        refuse_read_only(locked)
        if locked.hard_limit and locked.available + value < 0:
            raise ValidationError(
                {"amount": f"{locked.name} has {locked.available} available: a hard wallet "
                 "cannot go below zero"}
            )  # fmt: skip
        entry = append(wallet=locked, type=type, amount=value, reason=reason, key=key, actor=actor)
        record(
            organization=locked.organization,
            actor=actor,
            action=f"wallet.{type}",
            obj=entry,
            object_repr=f"{locked.name}: {type} {value}",
            after={"wallet": locked.name, "amount": str(value), "balance": str(locked.balance),
                   "reason": reason, "key": key},
        )  # fmt: skip
    wallet.balance, wallet.reserved = locked.balance, locked.reserved
    return entry


def transfer(
    *, source: Wallet, target: Wallet, amount: object, reason: str, actor: Any, key: str = ""
) -> tuple[LedgerEntry, LedgerEntry]:
    """Move `amount` from `source` to `target`: two entries that sum to zero, one operation."""
    if target.organization_id != source.organization_id:
        raise ValidationError({"target": "belongs to another organisation"})
    if target.pk == source.pk:
        raise ValidationError({"target": "is the source wallet: a transfer needs two wallets"})
    if target.currency != source.currency:
        raise ValidationError(
            {"target": f"is in {target.currency}, the source in {source.currency}"}
        )
    value = read_amount(amount, source.currency)
    if value <= 0:
        raise ValidationError({"amount": "must be more than zero"})
    reason, key = _reason(reason), _key(key)
    with _key_race(key), transaction.atomic():
        src, dst = lock(source, target)
        done = _replay(src, key)
        if done:
            if [(e.wallet_id, e.amount) for e in done] != [(src.pk, -value), (dst.pk, value)]:
                raise ValidationError({"key": f'"{key}" was used for another entry'})
            return done[0], done[1]
        refuse_read_only(src, "source")
        refuse_read_only(dst, "target")
        if src.hard_limit and src.available < value:
            raise ValidationError(
                {"amount": f"{src.name} has {src.available} available: a hard wallet cannot "
                 "go below zero"}
            )  # fmt: skip
        pair = uuid.uuid4()
        out = append(wallet=src, type=EntryType.TRANSFER, amount=-value, reason=reason,
                     key=key, transfer=pair, actor=actor)  # fmt: skip
        into = append(wallet=dst, type=EntryType.TRANSFER, amount=value, reason=reason,
                      key=f"{key}/in" if key else "", transfer=pair, actor=actor)  # fmt: skip
        record(
            organization=src.organization,
            actor=actor,
            action="wallet.transfer",
            obj=out,
            object_repr=f"{src.name} -> {dst.name}: {value}",
            after={"from": src.name, "to": dst.name, "amount": str(value), "reason": reason,
                   "key": key, "transfer": str(pair)},
        )  # fmt: skip
    for given, fresh in ((source, src), (target, dst)):
        given.balance, given.reserved = fresh.balance, fresh.reserved
    return out, into


def post_chargeback(*, wallet: Wallet, statement: Any, amount: Decimal, actor: Any) -> LedgerEntry:
    """Charge a final statement's total to `wallet`, once per statement (its key). The bill is
    owed: a hard or archived unit's wallet is charged too, and may go below zero."""
    return _post_once(
        wallet, key=f"chargeback:{statement.pk}:{wallet.kind}", type=EntryType.CHARGEBACK,
        amount=-amount, reason=f"Statement {statement.number}", statement=statement,
        actor=actor, action="wallet.chargeback", subject=f"statement {statement.number}",
        about={"statement": statement.number},
    )  # fmt: skip


def post_credit(*, wallet: Wallet, credit_note: Any, actor: Any) -> LedgerEntry:
    """Credit a statement's credit note to `wallet`, once per credit note (its key)."""
    return _post_once(
        wallet, key=f"credit_note:{credit_note.pk}", type=EntryType.CREDIT,
        amount=credit_note.amount,
        reason=f"Credit note {credit_note.number}: {credit_note.reason}",
        statement=credit_note.statement, actor=actor, action="wallet.credit",
        subject=f"credit note {credit_note.number}", about={"credit_note": credit_note.number},
    )  # fmt: skip


def _post_once(
    wallet: Wallet, *, key: str, type: str, amount: Decimal, reason: str, statement: Any,
    actor: Any, action: str, subject: str, about: dict,
) -> LedgerEntry:  # fmt: skip
    """One system entry on `wallet` under its idempotency key, audited; posting it again
    returns the first. An entry of another kind or wallet holding the key is an error, not a
    replay: the money would silently never post."""
    with transaction.atomic():
        (locked,) = lock(wallet)
        done = _replay(locked, key)
        if done:
            first = done[0]
            if first.type != type or first.wallet_id != locked.pk:
                raise ValidationError(
                    {"key": f'"{key}" is held by a {first.get_type_display().lower()} entry '
                     f"of another kind or wallet (#{first.pk})"}
                )  # fmt: skip
            return first
        entry = append(wallet=locked, type=type, amount=amount, reason=reason, key=key,
                       statement=statement, actor=actor)  # fmt: skip
        record(
            organization=locked.organization,
            actor=actor,
            action=action,
            obj=entry,
            object_repr=f"{locked.name}: {subject}",
            after={"wallet": locked.name, **about, "amount": str(amount),
                   "balance": str(locked.balance)},
        )  # fmt: skip
    return entry
