"""Budgets per unit (recurring monthly), the alerts they fire, who has read them, and where the
alerts were sent (webhooks and their deliveries). Every row carries its organization."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django_scopes import ScopedManager

from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit

AMOUNT = {"max_digits": 18, "decimal_places": 4}
COST = {"max_digits": 24, "decimal_places": 12}
DEFAULT_THRESHOLDS = (50, 80, 100)


def default_thresholds() -> list[int]:
    return list(DEFAULT_THRESHOLDS)


def threshold_errors(value: object) -> str | None:
    """Why a thresholds list is not acceptable, or None: whole percents 1 to 1000, no repeats."""
    if not isinstance(value, list | tuple) or not value:
        return "must be a non-empty list of whole percents, e.g. [50, 80, 100]"
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= 1000:
            return f"{item!r} is not a whole percent between 1 and 1000"
    if len(set(value)) != len(value):
        return "a threshold is listed twice"
    return None


class Budget(models.Model):
    """A unit's monthly budget, recurring every month, in the organisation's currency."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, related_name="budgets")
    amount = models.DecimalField("monthly amount", **AMOUNT)
    currency = models.CharField(max_length=3)
    thresholds = models.JSONField(default=default_thresholds)
    hard = models.BooleanField(
        "hard limit", default=False, help_text="Gateway authorization denies above 100%."
    )
    include_descendants = models.BooleanField(
        default=True, help_text="Count the spend of the units below this one."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["unit__code"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "unit"], name="one_budget_per_unit")
        ]

    def __str__(self) -> str:
        return f"{self.unit.code} {self.amount} {self.currency}/month"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        currency = self.organization.currency if self.organization_id else None
        if currency and self.currency and self.currency != currency:
            errors["currency"] = (
                f'"{self.currency}" is not the organisation\'s currency ({currency}); '
                "budgets are in the organisation's currency"
            )
        if self.amount is not None and self.amount <= Decimal(0):
            errors["amount"] = "must be more than zero"
        problem = threshold_errors(self.thresholds)
        if problem:
            errors["thresholds"] = problem
        if (
            self.unit_id
            and self.organization_id
            and self.unit.organization_id != self.organization_id
        ):
            errors["unit"] = "the unit belongs to another organisation"
        if errors:
            raise ValidationError(errors)


class AlertKind(models.TextChoices):
    THRESHOLD = "threshold", "Threshold"
    FORECAST = "forecast", "Forecast"


class Alert(models.Model):
    """One fired alert. The unique constraint makes each threshold fire once per unit and month
    however many workers check at the same moment."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, related_name="+")
    month = models.CharField(max_length=7)  # YYYY-MM
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    threshold = models.PositiveIntegerField()  # percent; a forecast alert: 100
    spend = models.DecimalField(**COST)
    budget = models.DecimalField(**AMOUNT)
    forecast = models.DecimalField(**COST)
    drivers = models.JSONField(default=list)  # [{"model", "service", "cost"}], top three
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "unit", "month", "kind", "threshold"],
                name="alert_once_per_unit_month",
            )
        ]

    def __str__(self) -> str:
        what = "forecast" if self.kind == AlertKind.FORECAST else f"{self.threshold}%"
        return f"{self.unit.code} {what} {self.month}"


class AlertRead(models.Model):
    """A member's copy of an alert for the in-app bell: written unread (read_at null) for each
    person told when the alert fires, so the bell is one count; read_at is set when read."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="reads")
    read_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "alert"], name="alert_read_once_per_user")
        ]
        indexes = [models.Index(fields=["user", "organization", "read_at"], name="alert_bell")]

    def __str__(self) -> str:
        return f"alert {self.alert_id} read by user {self.user_id}"


class Webhook(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    url = models.URLField(
        "URL", max_length=500, validators=[URLValidator(schemes=["http", "https"])]
    )
    secret = models.CharField(max_length=200, help_text="Signs each body (HMAC-SHA256).")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    webhook = models.ForeignKey(Webhook, null=True, blank=True, on_delete=models.SET_NULL)
    recipients = models.JSONField(default=list)  # email addresses, or the webhook's URL
    status = models.CharField(
        max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.channel} of alert {self.alert_id}: {self.status}"
