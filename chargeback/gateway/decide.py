"""Authorize a gateway request (DESIGN 6.4): allow or deny, with the reason, a reservation on
the unit's team wallet, what the wallet has left and what the budget has left.

The checks, in order, the first that fails giving the reason:

1. `unknown_key`: the gateway key id is not one of the organisation's active keys;
2. `archived_unit`: the key's unit is archived (its wallet is read-only);
3. `model_not_approved`: the organisation requires approval above an input price per 1M
   tokens, the model's price in force is above it, the key serves production (or any
   environment), and no admin approved the model for the unit;
4. `budget_hard_limit`: a hard budget covering the unit (its own, or an ancestor's that
   counts descendants) would go above 100%: this month's spend from the rollup, plus the money
   held by open reservations on the budget's units' wallets, plus this request (checked under
   the hard budgets' row locks, so parallel requests of its units never overshoot it);
5. `wallet_exhausted`: the unit's hard team wallet cannot hold the estimate (checked and held
   under the wallet's row lock, so parallel requests never overdraw it).

A unit without a team wallet is not limited by one (no reservation). Modes: `off` answers
allow and records nothing; `observe` answers allow, holds the money when the wallet covers it,
and records the reason it would have denied; `enforce` denies. The request id is the
idempotency key: a decision is stored once per request id, and the same id is answered from it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from chargeback import sql
from chargeback.budgets.models import Budget
from chargeback.calendar import Period, local_today
from chargeback.gateway.estimate import Priced, price_request
from chargeback.gateway.lookup import First, Key, Stored, first_read, lock_wallet
from chargeback.gateway.models import Decision, Enforcement, Mode, ModelApproval, Reason
from chargeback.money import quantize
from chargeback.reconciliation.absorb import key_flagged
from chargeback.sql import Insert
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit
from chargeback.units.queries import parent_map
from chargeback.units.tree import descendants
from chargeback.usage.models import MonthlyUsage
from chargeback.wallets.ledger import ReadOnlyWallet
from chargeback.wallets.models import Wallet
from chargeback.wallets.reservations import WalletExhausted, hold_locked

ACTOR = "gateway"
NEW = Insert(Decision)
PRODUCTION = ("production", "")  # a key for any environment serves production too


@dataclass(frozen=True)
class Request:
    gateway_key_id: str
    request_id: str
    estimated_cost: Decimal | None = None
    provider: str = ""
    model: str = ""
    input_tokens: int | None = None
    max_output_tokens: int | None = None


@dataclass(frozen=True)
class Answer:
    allowed: bool
    reason: str
    mode: str
    reservation_id: int | None = None
    reserved: Decimal | None = None
    wallet_available: Decimal | None = None
    budget_remaining: Decimal | None = None
    currency: str = ""

    def as_json(self) -> dict:
        def text(v: Decimal | None) -> str | None:
            return None if v is None else str(quantize(v, self.currency))

        return {
            "decision": "allow" if self.allowed else "deny",
            "reason": self.reason or None,
            "reservation_id": self.reservation_id,
            "reserved": text(self.reserved),
            "wallet_available": text(self.wallet_available),
            "budget_remaining": text(self.budget_remaining),
            "mode": self.mode,
        }


def enforcement(organization: Organization) -> Enforcement:
    """The organisation's setting (the defaults, unsaved, when it has none)."""
    return Enforcement.objects.filter(organization=organization).first() or Enforcement(
        organization=organization
    )


def answer_of(d: Decision | Stored, currency: str) -> Answer:
    return Answer(
        allowed=d.allowed, reason=d.reason, mode=d.mode, reservation_id=d.reservation_id,
        reserved=d.reserved, wallet_available=d.wallet_available,
        budget_remaining=d.budget_remaining, currency=currency,
    )  # fmt: skip


def authorize(
    *, organization: Organization, request: Request, now: dt.datetime | None = None
) -> Answer:
    """Decide, hold the money when allowed, and record the decision (not in `off` mode)."""
    read = first_read(organization, request.request_id, request.gateway_key_id)
    setting = read.setting
    if setting.mode == Mode.OFF:
        return Answer(allowed=True, reason="", mode=Mode.OFF, currency=organization.currency)
    if read.decided is not None:
        return answer_of(read.decided, organization.currency)
    now = now or timezone.now()
    try:
        # Pipelined (PostgreSQL): the writes after the reservation's (its id is read back)
        # are not waited for one by one; their answers are read together at the block's end,
        # where an error of theirs is raised inside the transaction, which rolls it back.
        with transaction.atomic(), sql.pipeline():
            decision = NEW.save(_decide(organization, read, request, now), wait=False)
    except IntegrityError:  # the same request id, decided at the same moment: the first answer
        first = Decision.objects.filter(organization=organization, request_id=request.request_id)
        if (done := first.first()) is None:  # reserved outside the gateway, not decided
            raise ValidationError({"request_id": "was already used for a reservation"}) from None
        return answer_of(done, organization.currency)
    return answer_of(decision, organization.currency)


def _decide(
    organization: Organization, read: First, request: Request, now: dt.datetime
) -> Decision:
    setting, key = read.setting, read.key
    enforce = setting.mode == Mode.ENFORCE
    d = Decision(
        organization=organization,
        request_id=request.request_id,
        gateway_key_id=request.gateway_key_id,
        mode=setting.mode,
        allowed=True,
        reason="",
    )
    if key is None:
        d.provider, d.model, d.estimated_cost = (
            request.provider,
            request.model,
            request.estimated_cost,
        )
        # Past its grace period an unmapped key is refused in observe mode too.
        flagged = not enforce and key_flagged(organization, request.gateway_key_id, now)
        return _deny(d, Reason.UNKNOWN_KEY, enforce or flagged)
    priced = _priced(organization, request, now, read.prices)
    if priced is not None:
        d.provider, d.model = priced.provider, priced.model
    cost = request.estimated_cost if request.estimated_cost is not None else priced.cost
    d.estimated_cost = cost
    unit = d.unit = key.unit
    # Locked now (the transaction holds it until the decision is stored): the reservation
    # below needs no second lock, and the available amount answered is the one checked.
    wallet = d.wallet = lock_wallet(organization, key)
    if wallet is not None:
        d.wallet_available = wallet.available
    if unit.archived:
        return _deny(d, Reason.ARCHIVED_UNIT, enforce)
    if priced is not None and _needs_approval(organization, setting, priced, key):
        _deny(d, Reason.MODEL_NOT_APPROVED, enforce)
    remaining, over = _budget(organization, unit, cost, now) if read.has_budgets else (None, False)
    d.budget_remaining = remaining
    if over and not d.reason:
        _deny(d, Reason.BUDGET_HARD_LIMIT, enforce)
    if not d.allowed or wallet is None or cost <= 0:
        return d
    try:
        reservation = hold_locked(wallet=wallet, request_id=request.request_id, amount=cost,
                                  actor=ACTOR, now=now)  # fmt: skip
    except (WalletExhausted, ReadOnlyWallet) as exc:
        return _deny(d, d.reason or exc.reason, enforce)
    d.reservation, d.reserved = reservation, reservation.amount
    d.wallet_available = wallet.available
    if d.budget_remaining is not None:
        d.budget_remaining -= reservation.amount
    return d


def _deny(d: Decision, reason: str, enforce: bool) -> Decision:
    if not d.reason:
        d.reason = reason
    d.allowed = not enforce
    return d


def _priced(
    organization: Organization, request: Request, now: dt.datetime, fingerprint: tuple
) -> Priced | None:
    if not (request.provider and request.model):
        if request.estimated_cost is None:
            raise ValidationError(
                {"estimated_cost": "required, or provider, model, input_tokens and "
                 "max_output_tokens in its place"}
            )  # fmt: skip
        return None
    if request.estimated_cost is None and (
        request.input_tokens is None or request.max_output_tokens is None
    ):
        field = "input_tokens" if request.input_tokens is None else "max_output_tokens"
        raise ValidationError({field: "required to price the request (or send estimated_cost)"})
    return price_request(
        organization,
        provider=request.provider,
        model=request.model,
        input_tokens=request.input_tokens,
        max_output_tokens=request.max_output_tokens,
        at=now,
        fingerprint=fingerprint,
    )


def _needs_approval(
    organization: Organization, setting: Enforcement, priced: Priced, key: Key
) -> bool:
    threshold = setting.approval_above_input_per_1m
    if threshold is None or priced.input_per_1m <= threshold:
        return False
    if key.environment not in PRODUCTION:
        return False
    return not ModelApproval.objects.filter(
        organization=organization,
        unit=key.unit,
        provider=priced.provider,
        model=priced.model,
    ).exists()


def _budget(
    organization: Organization, unit: BusinessUnit, cost: Decimal, now: dt.datetime
) -> tuple[Decimal | None, bool]:
    """(the least any budget covering the unit has left, whether a hard one would go above
    100% with `cost`). One query when the organisation has no budgets."""
    budgets = list(
        Budget.objects.filter(organization=organization).values(
            "pk", "unit_id", "amount", "hard", "include_descendants"
        )
    )
    if not budgets:
        return None, False
    parents = parent_map(organization)
    covering = [
        b
        for b in budgets
        if b["unit_id"] == unit.pk
        or (b["include_descendants"] and unit.pk in descendants(parents, [b["unit_id"]]))
    ]
    if not covering:
        return None, False
    if hard := sorted(b["pk"] for b in covering if b["hard"]):
        # Held until the decision is stored: requests of other units under the same hard
        # budget wait here, so two of them never both take its last money.
        locked = Budget.objects.select_for_update().filter(organization=organization, pk__in=hard)
        list(locked.order_by("pk").values("pk"))
    period = Period.of(local_today(organization.tz, now))
    remaining, over = None, False
    for b in covering:
        ids = descendants(parents, [b["unit_id"]]) if b["include_descendants"] else {b["unit_id"]}
        spent = _spent(organization, ids, period)
        left = quantize(b["amount"] - spent, organization.currency)
        remaining = left if remaining is None else min(remaining, left)
        over = over or (b["hard"] and cost > left)
    return remaining, over


def _spent(organization: Organization, unit_ids: set[int], period: Period) -> Decimal:
    """This month's priced usage of the units, and the money their wallets hold for requests
    not settled yet."""
    usage = MonthlyUsage.objects.filter(
        organization=organization, unit_id__in=unit_ids, month=period.first,
        dimension=MonthlyUsage.UNIT,
    ).aggregate(total=Sum("cost"))["total"]  # fmt: skip
    held = Wallet.objects.filter(organization=organization, unit_id__in=unit_ids).aggregate(
        total=Sum("reserved")
    )["total"]
    return Decimal(usage or 0) + Decimal(held or 0)
