"""Billing periods, statements and their lines, and the outcome counts activity rates use.

A period moves `open -> in_review -> closed`. Its statements are drafts while it is open
(regenerated as a whole, so numbers stay gapless), become `issued` together (immutable from
then on: the dispute window opens) and `final` when the period closes.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django_scopes import ScopedManager

from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit

AMOUNT = {"max_digits": 20, "decimal_places": 4}
EXACT = {"max_digits": 32, "decimal_places": 12}


class PeriodState(models.TextChoices):
    OPEN = "open", "Open"
    IN_REVIEW = "in_review", "In review"
    CLOSED = "closed", "Closed"


class DraftStatus(models.TextChoices):
    NONE = "", "Not generated"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Generating"
    DONE = "done", "Generated"
    FAILED = "failed", "Failed"


class BillingPeriod(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="billing_periods"
    )
    month = models.DateField(help_text="The first day of the month.")
    state = models.CharField(max_length=20, choices=PeriodState.choices, default=PeriodState.OPEN)
    # Draft generation (a Celery task); the close page polls these.
    draft_status = models.CharField(
        max_length=20, choices=DraftStatus.choices, default=DraftStatus.NONE, blank=True
    )
    draft_stage = models.CharField(max_length=20, blank=True)
    draft_started_at = models.DateTimeField(
        null=True, blank=True, help_text="When generation was queued (a stuck run expires)."
    )
    draft_done = models.PositiveIntegerField(default=0)
    draft_total = models.PositiveIntegerField(default=0)
    draft_error = models.TextField(blank=True)
    drafted_at = models.DateTimeField(null=True, blank=True)
    # The month's figures at the last draft, for the review against the month's cost.
    usage_cost = models.DecimalField(**EXACT, default=0)
    unallocated_cost = models.DecimalField(**EXACT, default=0)
    requests = models.BigIntegerField(default=0)
    inputs = models.JSONField(
        default=dict,
        blank=True,
        help_text="Fingerprints of what the drafts were built from (outcome counts, units, "
        "late adjustments), to refuse issuing drafts that are out of date.",
    )
    # The month's rollup totals once late usage has been billed as adjustments, so later
    # drafts stop re-running it.
    reconciled_cost = models.DecimalField(**EXACT, null=True, blank=True)
    reconciled_requests = models.BigIntegerField(null=True, blank=True)
    # Set when the statements are issued.
    policy = models.JSONField(
        default=dict, blank=True, help_text="The policy the statements were built with."
    )
    issued_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dispute_deadline = models.DateField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_by_label = models.CharField(
        max_length=254, blank=True, help_text="Who closed it, as written when it was closed."
    )
    close_override = models.TextField(
        blank=True,
        help_text="Closed despite a close gate (e.g. before the dispute window ended): the "
        "written reason, shown on its statements.",
    )

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "month"], name="billing_period_unique_month"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization.slug} {self.label}"

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def title(self) -> str:
        return f"{self.month:%B %Y}"

    def clean(self) -> None:
        if self.month and self.month.day != 1:
            raise ValidationError({"month": "A billing period starts on a month's first day."})


class StatementMode(models.TextChoices):
    SHOWBACK = "showback", "Showback"
    CHARGEBACK = "chargeback", "Chargeback"


class StatementStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ISSUED = "issued", "Issued"
    FINAL = "final", "Final"


class PdfStatus(models.TextChoices):
    NONE = "", "Not rendered"
    QUEUED = "queued", "Queued"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"


class ImmutableStatement(Exception):
    """An issued statement is never edited; corrections are adjustments or credits."""


class Statement(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    period = models.ForeignKey(BillingPeriod, on_delete=models.CASCADE, related_name="statements")
    unit = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, related_name="statements")
    # What the statement prints about its unit, as it was when drafted and issued: a unit
    # renamed (or handed to another owner) later does not change an issued statement.
    unit_code = models.CharField(max_length=40, blank=True)
    unit_name = models.CharField(max_length=200, blank=True)
    unit_owner = models.EmailField(max_length=254, blank=True)
    number = models.CharField(max_length=60)
    sequence = models.PositiveIntegerField()
    mode = models.CharField(max_length=20, choices=StatementMode.choices)
    status = models.CharField(
        max_length=20, choices=StatementStatus.choices, default=StatementStatus.DRAFT
    )
    central = models.BooleanField(default=False)
    currency = models.CharField(max_length=3)
    tier = models.CharField(max_length=100, blank=True)
    total = models.DecimalField(**AMOUNT)
    usage_cost = models.DecimalField(**EXACT, default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    requests = models.BigIntegerField(default=0)
    # The organisation's month, printed on every statement.
    org_cost = models.DecimalField(**EXACT, default=0)
    org_unallocated = models.DecimalField(**EXACT, default=0)
    evidence = models.JSONField(default=dict, blank=True)
    dispute_deadline = models.DateField(null=True, blank=True)
    checksum = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    pdf = models.FileField(upload_to="statements/%Y/%m/", blank=True)
    pdf_status = models.CharField(
        max_length=20, choices=PdfStatus.choices, default=PdfStatus.NONE, blank=True
    )
    pdf_error = models.TextField(blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["period", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "number"], name="statement_unique_number"
            ),
            models.UniqueConstraint(fields=["period", "unit"], name="statement_unique_unit"),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args, **kwargs) -> None:
        if self.pk and not kwargs.pop("allow_issued", False):
            stored = Statement.objects.with_scopes_disabled().filter(pk=self.pk).first()
            if stored is not None and stored.status != StatementStatus.DRAFT:
                raise ImmutableStatement(f"Statement {stored.number} is {stored.status}.")
        if self.unit_id and not self.unit_code:  # the close fills these; a statement made by hand
            self.unit_code = self.unit.code
            self.unit_name = self.unit_name or self.unit.name
            self.unit_owner = self.unit_owner or self.unit.owner_email
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.status != StatementStatus.DRAFT:
            raise ImmutableStatement(f"Statement {self.number} is {self.status}.")
        return super().delete(*args, **kwargs)

    @property
    def is_draft(self) -> bool:
        return self.status == StatementStatus.DRAFT

    @property
    def is_chargeback(self) -> bool:
        return self.mode == StatementMode.CHARGEBACK

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def dispute_open(self) -> bool:
        if self.status != StatementStatus.ISSUED or self.dispute_deadline is None:
            return False
        today = dt.datetime.now(self.organization.tz).date()
        return today <= self.dispute_deadline


class StatementLine(models.Model):
    KINDS = (
        ("usage", "Usage"),
        ("markup", "Tier markup"),
        ("platform_fee", "Platform fee"),
        ("pool", "Shared cost"),
        ("activity", "Activity charge"),
        ("discount", "Discount"),
        ("allowance", "Allowance"),
        ("confidence", "Low-confidence spend"),
        ("true_up", "True-up"),
        ("adjustment", "Adjustment"),
        ("credit", "Credit"),
    )
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=KINDS)
    description = models.CharField(max_length=500)
    quantity = models.DecimalField(**EXACT, null=True, blank=True)
    unit_price = models.DecimalField(max_digits=40, decimal_places=20, null=True, blank=True)
    amount = models.DecimalField(**AMOUNT)
    ref = models.CharField(
        max_length=300, blank=True, help_text="provider/model, pool, discount, outcome or unit"
    )
    month = models.CharField(
        max_length=7, blank=True, help_text="For adjustments: the month (YYYY-MM) it corrects."
    )

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["statement", "position"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "position"], name="line_unique_position")
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.description}"

    @property
    def provider_model(self) -> tuple[str, str] | None:
        if self.kind == "usage" and "/" in self.ref:
            provider, model = self.ref.split("/", 1)
            return provider, model
        return None


class OutcomeCount(models.Model):
    """Business outcomes a unit delivered in a month (e.g. resolved tickets), for activity
    rates. Posted by API or CSV; a new post for the same (unit, month, outcome) replaces it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, related_name="+")
    month = models.DateField(help_text="The first day of the month.")
    outcome = models.CharField(max_length=100)
    count = models.PositiveBigIntegerField()
    source = models.CharField(max_length=20, default="api")
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-month", "unit", "outcome"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "unit", "month", "outcome"], name="outcome_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.outcome}: {self.count}"


class ImmutableCreditNote(Exception):
    """A credit note is never edited or deleted; a correction is another document."""


class CreditNote(models.Model):
    """A credit against an issued (not yet final) statement, e.g. for an accepted dispute. The
    statement stays as issued; what the unit owes is its total less its credit notes."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=80)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(**AMOUNT, help_text="Positive: what is credited.")
    reason = models.TextField()
    ref = models.CharField(
        max_length=100, help_text="What it credits, e.g. dispute:12; one credit note per ref."
    )
    link = models.CharField(max_length=300, blank=True, help_text="The page of what it credits.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_label = models.CharField(max_length=254, blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["statement", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "number"], name="credit_note_unique_number"
            ),
            models.UniqueConstraint(fields=["organization", "ref"], name="credit_note_unique_ref"),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args, **kwargs) -> None:
        if self.pk:
            raise ImmutableCreditNote(f"Credit note {self.number} is issued.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableCreditNote(f"Credit note {self.number} is issued.")
