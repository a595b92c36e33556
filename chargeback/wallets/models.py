"""Wallets and their append-only ledger (DESIGN.md 3, issue 13).

A wallet belongs to a unit (`team`: at most one per unit; `experimental`: an allowance for
trials, at most one per unit) or to the organisation (`central`: the pool that pays the hybrid
baseline, at most one). Its money is the ledger: every entry carries a signed `amount` (posted
money) and a signed `pending` (money held by open reservations), so

    balance   = sum(amount)   of the wallet's entries
    reserved  = sum(pending)  of the wallet's entries = the open reservations' amounts
    available = balance - reserved

The wallet row caches `balance` and `reserved`; they are written in the same transaction as
each entry, under the wallet's row lock (chargeback.wallets.ledger is the one write path), and
tests check the cache against the sums. Entries are never edited or deleted: the model refuses
it and, on PostgreSQL, a trigger too. A reservation is pending -> posted | voided | expired,
each resolved once (compare-and-set on its state).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django_scopes import ScopedManager

from chargeback.money import quantize
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit

AMOUNT = {"max_digits": 20, "decimal_places": 4}


class WalletKind(models.TextChoices):
    TEAM = "team", "Team"
    CENTRAL = "central", "Central pool"
    EXPERIMENTAL = "experimental", "Experimental allowance"


class Wallet(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey(
        BusinessUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="wallets"
    )
    kind = models.CharField(max_length=20, choices=WalletKind.choices, default=WalletKind.TEAM)
    hard_limit = models.BooleanField(
        default=True, help_text="A hard wallet never goes below zero; a soft one may."
    )
    currency = models.CharField(max_length=3)
    monthly_funding = models.DecimalField(**AMOUNT, default=0)
    # Caches of the ledger's sums, written with each entry under the row lock.
    balance = models.DecimalField(**AMOUNT, default=0)
    reserved = models.DecimalField(**AMOUNT, default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["kind", "unit__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "kind"],
                condition=models.Q(unit__isnull=False),
                name="wallet_unique_unit_kind",
            ),
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(kind="central"),
                name="wallet_unique_central",
            ),
            models.CheckConstraint(
                condition=(models.Q(kind="central") & models.Q(unit__isnull=True))
                | (~models.Q(kind="central") & models.Q(unit__isnull=False)),
                name="wallet_central_has_no_unit",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """How commands name the wallet: its unit's code, or `central`; experimental marked."""
        if self.kind == WalletKind.CENTRAL:
            return "central"
        code = self.unit.code if self.unit_id else "?"
        return f"{code}:experimental" if self.kind == WalletKind.EXPERIMENTAL else code

    @property
    def code(self) -> str:
        return "central" if self.kind == WalletKind.CENTRAL else self.unit.code

    @property
    def available(self) -> Decimal:
        return quantize(self.balance - self.reserved, self.currency)

    @property
    def read_only(self) -> bool:
        return bool(self.unit_id and self.unit.archived)


class EntryType(models.TextChoices):
    FUNDING = "funding", "Funding"
    TOP_UP = "top_up", "Top-up"
    TRANSFER = "transfer", "Transfer"
    RESERVATION = "reservation", "Reservation"
    RELEASE = "release", "Release"
    SETTLEMENT = "settlement", "Settlement"
    CHARGEBACK = "chargeback", "Chargeback"
    CREDIT = "credit", "Credit"
    ADJUSTMENT = "adjustment", "Adjustment"


class AppendOnly(Exception):
    """Ledger entries are never edited or deleted; corrections are new entries."""


class LedgerEntry(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    # Indexed by ledger_wallet_time (wallet, created_at), which leads with it.
    wallet = models.ForeignKey(
        Wallet, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    type = models.CharField(max_length=20, choices=EntryType.choices)
    amount = models.DecimalField(**AMOUNT, help_text="Posted money: + in, - out.")
    pending = models.DecimalField(
        **AMOUNT, default=0, help_text="Money held (+) or let go (-) by a reservation."
    )
    reason = models.CharField(max_length=500, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True)
    transfer = models.UUIDField(
        null=True, blank=True, help_text="Shared by the two entries of one transfer."
    )
    reservation = models.ForeignKey(
        "Reservation", null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    statement = models.ForeignKey(
        "billing.Statement", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.CharField(max_length=254, blank=True)
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="ledger_unique_idempotency_key",
            )
        ]
        indexes = [models.Index(fields=["wallet", "created_at"], name="ledger_wallet_time")]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.amount}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise AppendOnly("ledger entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("ledger entries are append-only")


class ReservationState(models.TextChoices):
    PENDING = "pending", "Pending"
    POSTED = "posted", "Posted"
    VOIDED = "voided", "Voided"
    EXPIRED = "expired", "Expired"


class Reservation(models.Model):
    # Indexed by the unique (organization, request id), which leads with it.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="reservations")
    request_id = models.CharField(max_length=200, help_text="The caller's idempotency key.")
    amount = models.DecimalField(**AMOUNT)
    state = models.CharField(
        max_length=20, choices=ReservationState.choices, default=ReservationState.PENDING
    )
    expires_at = models.DateTimeField()
    settled_amount = models.DecimalField(**AMOUNT, null=True, blank=True)
    released_amount = models.DecimalField(**AMOUNT, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "request_id"], name="reservation_unique_request"
            )
        ]
        indexes = [models.Index(fields=["state", "expires_at"], name="reservation_state_expiry")]

    def __str__(self) -> str:
        return f"{self.request_id} ({self.state})"
