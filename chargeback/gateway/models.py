"""Gateway authorization (DESIGN 6.4, issue 13 section 2): the organisation's enforcement
setting, the models an admin approved for a unit's production use, and the log of decisions.

A decision is stored once per (organisation, gateway request id): the request id is the
idempotency key, so the same request authorized twice is answered from its row (a deny too).
In `off` mode nothing is stored.
"""

from __future__ import annotations

from django.db import models
from django_scopes import ScopedManager

from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit
from chargeback.wallets.models import Reservation, Wallet

AMOUNT = {"max_digits": 20, "decimal_places": 4}
PRICE = {"max_digits": 18, "decimal_places": 6}


class Mode(models.TextChoices):
    OFF = "off", "Off: always allow, record nothing"
    OBSERVE = "observe", "Observe: always allow, record what would be denied"
    ENFORCE = "enforce", "Enforce: deny"


class Reason(models.TextChoices):
    WALLET_EXHAUSTED = "wallet_exhausted", "Wallet exhausted"
    BUDGET_HARD_LIMIT = "budget_hard_limit", "Budget hard limit"
    UNKNOWN_KEY = "unknown_key", "Unknown gateway key"
    ARCHIVED_UNIT = "archived_unit", "Archived unit"
    MODEL_NOT_APPROVED = "model_not_approved", "Model not approved"


class Enforcement(models.Model):
    """The organisation's `enforcement:` section; no row means the defaults (observe, no
    approval threshold)."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.OBSERVE)
    approval_above_input_per_1m = models.DecimalField(
        **PRICE,
        null=True,
        blank=True,
        help_text="Production use of a model whose input price per 1M tokens is above this "
        "needs an admin's approval per unit; empty: no approvals needed.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(organization="organization")

    def __str__(self) -> str:
        return f"enforcement {self.mode}"


class ModelApproval(models.Model):
    """An admin approved `provider/model` for a unit's production traffic."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, related_name="+")
    provider = models.CharField(max_length=60)
    model = models.CharField(max_length=200)
    approved_by = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["unit__code", "provider", "model"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "unit", "provider", "model"], name="approval_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} for {self.unit.code}"


class Decision(models.Model):
    # No single-column index on organization or wallet: the composite indexes below (and the
    # unique request id) lead with them, and every index is written on each authorization.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    request_id = models.CharField(max_length=200)
    gateway_key_id = models.CharField(max_length=200)
    unit = models.ForeignKey(
        BusinessUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    wallet = models.ForeignKey(
        Wallet, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    provider = models.CharField(max_length=60, blank=True)
    model = models.CharField(max_length=200, blank=True)
    mode = models.CharField(max_length=10, choices=Mode.choices)
    allowed = models.BooleanField(help_text="The answer: allow (observe mode always allows).")
    reason = models.CharField(
        max_length=30,
        choices=Reason.choices,
        blank=True,
        help_text="Why it was (or would be) denied.",
    )
    estimated_cost = models.DecimalField(**AMOUNT, null=True, blank=True)
    reservation = models.ForeignKey(
        Reservation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reserved = models.DecimalField(**AMOUNT, null=True, blank=True)
    wallet_available = models.DecimalField(**AMOUNT, null=True, blank=True)
    budget_remaining = models.DecimalField(**AMOUNT, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "request_id"], name="decision_unique_request"
            )
        ]
        indexes = [
            models.Index(fields=["organization", "created_at"], name="decision_org_time"),
            models.Index(fields=["wallet", "created_at"], name="decision_wallet_time"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.outcome}"

    @property
    def outcome(self) -> str:
        """allowed, denied, or `would deny` (observe mode)."""
        if not self.allowed:
            return "denied"
        return "would deny" if self.reason else "allowed"
