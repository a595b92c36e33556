"""Versioned price books. Each import creates a PriceVersion holding the ModelPrice rows it
brought; the price in force for (provider, model, instant) is the row with the latest
effective_from at or before the instant (the highest version wins a tie). Events store the
row that priced them, so later price changes never re-price the past."""

from __future__ import annotations

from django.db import models
from django_scopes import ScopedManager

from chargeback.tenancy.models import Organization

PRICE = {"max_digits": 20, "decimal_places": 10, "null": True, "blank": True}
RATE_FIELDS = (
    "input_per_1m",
    "output_per_1m",
    "cached_input_per_1m",
    "cache_write_per_1m",
    "batch_input_per_1m",
    "batch_output_per_1m",
    "per_request",
)


class PriceVersion(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="price_versions"
    )
    number = models.PositiveIntegerField()
    label = models.CharField(max_length=200)
    created_by = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "number"], name="price_version_number_unique"
            )
        ]

    def __str__(self) -> str:
        return f"v{self.number} · {self.label}"


class ModelPrice(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="model_prices"
    )
    version = models.ForeignKey(PriceVersion, on_delete=models.PROTECT, related_name="prices")
    provider = models.CharField(max_length=60)
    model = models.CharField(max_length=200)
    effective_from = models.DateTimeField(
        help_text="UTC instant: local midnight of the date in the org's timezone."
    )
    input_per_1m = models.DecimalField(**PRICE)
    output_per_1m = models.DecimalField(**PRICE)
    cached_input_per_1m = models.DecimalField(**PRICE)
    cache_write_per_1m = models.DecimalField(**PRICE)
    batch_input_per_1m = models.DecimalField(**PRICE)
    batch_output_per_1m = models.DecimalField(**PRICE)
    per_request = models.DecimalField(**PRICE)
    currency = models.CharField(max_length=3)
    source = models.CharField(max_length=500, help_text="URL or text the prices were read from.")
    source_date = models.DateField(null=True, blank=True, help_text="When the source was read.")

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["provider", "model", "-effective_from"]
        indexes = [models.Index(fields=["organization", "provider", "model", "effective_from"])]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "provider", "model", "effective_from"],
                name="model_price_unique_in_version",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} from {self.effective_from:%Y-%m-%d} (v{self.version.number})"

    def rates_tuple(self) -> tuple:
        return tuple(getattr(self, f) for f in RATE_FIELDS) + (self.currency,)


class ModelAlias(models.Model):
    """A raw model name (dated snapshot, vendor-prefixed, Bedrock id, Azure deployment) -> canonical.
    An empty provider matches any provider."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="model_aliases"
    )
    provider = models.CharField(max_length=60, blank=True)
    raw = models.CharField("raw name", max_length=200)
    canonical_provider = models.CharField(max_length=60)
    canonical_model = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["raw"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "provider", "raw"], name="model_alias_unique"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.provider or '*'}:{self.raw} → {self.canonical_provider}/{self.canonical_model}"
        )


class RepricingRun(models.Model):
    """An explicit, audited re-pricing of a past range. Events keep their original cost and
    price; each run records the differences as adjustments (per unit, month, provider and
    model) that statements pick up, and remembers each event's latest repriced cost so a
    second run only adds what changed since."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="repricing_runs"
    )
    first_day = models.DateField()
    last_day = models.DateField()
    note = models.CharField(max_length=500)
    created_by = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)
    events_examined = models.PositiveIntegerField(default=0)
    events_changed = models.PositiveIntegerField(default=0)
    total_delta = models.DecimalField(max_digits=24, decimal_places=12, default=0)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"re-pricing {self.first_day}..{self.last_day}"


class PriceAdjustment(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(RepricingRun, on_delete=models.CASCADE, related_name="adjustments")
    unit = models.ForeignKey("units.BusinessUnit", on_delete=models.PROTECT, related_name="+")
    month = models.CharField(
        max_length=7, help_text="The month (YYYY-MM, org timezone) the usage belongs to."
    )
    provider = models.CharField(max_length=60)
    model = models.CharField(max_length=200)
    events = models.PositiveIntegerField()
    old_cost = models.DecimalField(max_digits=24, decimal_places=12)
    new_cost = models.DecimalField(max_digits=24, decimal_places=12)
    delta = models.DecimalField(max_digits=24, decimal_places=12)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["month", "unit_id", "provider", "model"]

    def __str__(self) -> str:
        return f"{self.month} {self.provider}/{self.model}: {self.delta}"
