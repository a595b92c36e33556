"""Provider invoices and their lines: what each provider billed the organisation for a month,
imported from a CSV of lines, a FOCUS 1.x cost and usage file, or typed in. An invoice is one
provider's month; a second invoice for the same provider and month is refused."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django_scopes import ScopedManager

from chargeback.tenancy.models import Organization

EXACT = {"max_digits": 32, "decimal_places": 12}


class TokenClass(models.TextChoices):
    INPUT = "input", "Input"
    CACHED_INPUT = "cached_input", "Cache read"
    CACHE_WRITE = "cache_write", "Cache write"
    OUTPUT = "output", "Output"
    BATCH_INPUT = "batch_input", "Batch input"
    BATCH_OUTPUT = "batch_output", "Batch output"
    REQUEST = "request", "Requests"
    OTHER = "other", "Other"


class InvoiceSource(models.TextChoices):
    CSV = "csv", "CSV of lines"
    FOCUS = "focus", "FOCUS cost and usage file"
    MANUAL = "manual", "Typed in"


class ProviderInvoice(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=60)
    month = models.DateField(help_text="The first day of the month billed.")
    currency = models.CharField(max_length=3)
    source = models.CharField(max_length=20, choices=InvoiceSource.choices)
    filename = models.CharField(max_length=300, blank=True)
    reference = models.CharField(max_length=200, blank=True, help_text="The provider's number.")
    total = models.DecimalField(**EXACT, default=0)
    created_by = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-month", "provider"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "provider", "month"], name="invoice_unique_provider_month"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.month:%Y-%m}"

    @property
    def period_label(self) -> str:
        return f"{self.month:%Y-%m}"


class InvoiceLine(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    invoice = models.ForeignKey(ProviderInvoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    provider = models.CharField(max_length=60)
    model = models.CharField(max_length=200, blank=True)
    token_class = models.CharField(max_length=20, choices=TokenClass.choices)
    quantity = models.DecimalField(**EXACT, default=0)
    amount = models.DecimalField(**EXACT)
    currency = models.CharField(max_length=3)
    day = models.DateField(null=True, blank=True, help_text="The day charged, when the file says.")
    sku = models.CharField(max_length=200, blank=True)
    list_amount = models.DecimalField(**EXACT, null=True, blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "position"], name="invoice_line_unique_position"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} {self.token_class}: {self.amount}"


class TrueUp(models.Model):
    """Finance's decision to charge a month's unexplained variance to the units, on a basis
    (proportional to usage spend): the month's drafts carry it as `true_up` lines. Events are
    never re-priced for it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="The first day of the month.")
    amount = models.DecimalField(max_digits=20, decimal_places=4)
    basis = models.CharField(max_length=20, default="spend")
    reason = models.CharField(max_length=500)
    created_by = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "month"], name="true_up_unique_month")
        ]

    def __str__(self) -> str:
        return f"true-up {self.month:%Y-%m}: {self.amount}"


class ReadinessPolicy(models.Model):
    """The organisation's reconciliation and readiness thresholds (one row, created with the
    defaults the first time finance saves them; `thresholds.thresholds_of` reads them)."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    variance_threshold_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=2,
        help_text="A month closes only while its unexplained variance is at most this percent.",
    )  # fmt: skip
    attributable_threshold_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=95,
        help_text="A unit is ready when at least this percent of its spend is attributed.",
    )  # fmt: skip
    require_named_owners = models.BooleanField(default=True)
    absorb_grace_months = models.PositiveSmallIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(organization="organization")

    def __str__(self) -> str:
        return "reconciliation thresholds"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"


class ExportJob(models.Model):
    """A large export written by a worker to a file under the var directory, with its progress
    (rows written of the rows to write); the file is offered to the requester's organisation
    and deleted after EXPORT_KEEP_DAYS."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    params = models.JSONField(
        help_text='{"format", "focus_version", "first", "last", "unit_ids" (null: every unit)}'
    )
    status = models.CharField(
        max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    rows_done = models.BigIntegerField(default=0)
    rows_total = models.BigIntegerField(default=0)
    file_path = models.CharField(max_length=500, blank=True, help_text="Under the var directory.")
    filename = models.CharField(max_length=300, help_text="The download's name.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        indexes = [models.Index(fields=["organization", "created_at"])]

    def __str__(self) -> str:
        return self.filename

    @property
    def running(self) -> bool:
        return self.status in (ExportStatus.QUEUED, ExportStatus.RUNNING)

    @property
    def progress_percent(self) -> int:
        if self.status == ExportStatus.DONE:
            return 100
        return min(99, self.rows_done * 100 // self.rows_total) if self.rows_total else 0
