"""Usage: ingestion keys, batches (with their raw payload), events, quarantine and the daily
rollup that dashboards and statements read."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django_scopes import ScopedManager

from chargeback.pricing.models import ModelPrice
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit

COST = {"max_digits": 24, "decimal_places": 12}


class IngestionKey(models.Model):
    """An organisation's API key for posting usage. Only a hash is stored; the secret is shown once."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="ingestion_keys"
    )
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=16, unique=True)
    hashed = models.CharField(max_length=128)
    created_by = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def payload_path(batch: IngestBatch, filename: str) -> str:
    return f"ingest/{batch.organization_id}/{filename}"


class BatchStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class IngestBatch(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="ingest_batches"
    )
    source = models.CharField(max_length=20)  # api | cli | upload | demo | replay
    format = models.CharField(max_length=20)  # json | ndjson | csv | otel | litellm
    filename = models.CharField(max_length=300, blank=True)
    payload = models.FileField(
        upload_to=payload_path, help_text="The raw payload, stored before the 202 answer."
    )
    size_bytes = models.PositiveBigIntegerField(default=0)
    status = models.CharField(
        max_length=20, choices=BatchStatus.choices, default=BatchStatus.RECEIVED
    )
    received = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    quarantined = models.PositiveIntegerField(default=0)
    records_done = models.PositiveIntegerField(
        default=0, help_text="Records committed so far (resume point)."
    )
    records_total = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Tries that failed for a reason that is not a record's."
    )
    created_by = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last committed chunk.")
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"batch {self.pk}"

    @property
    def counts_line(self) -> str:
        return (
            f"batch {self.pk}: received={self.received} accepted={self.accepted} "
            f"duplicates={self.duplicates} quarantined={self.quarantined}"
        )

    SOURCE_LABELS = {
        "api": "API", "cli": "command line", "upload": "upload", "demo": "demo data",
        "replay": "replay from the quarantine",
    }  # fmt: skip

    @property
    def source_label(self) -> str:
        return self.SOURCE_LABELS.get(self.source, self.source)

    @property
    def created_by_label(self) -> str:
        """Who sent it, in words: "ingestion key “LiteLLM prod”", "the ingest_events command",
        or the person's email."""
        kind, _, name = self.created_by.partition(":")
        if name and kind == "key":
            return f"ingestion key “{name}”"
        if name and kind == "command":
            return f"the {name} command"
        return self.created_by

    @property
    def progress_percent(self) -> int:
        if self.status == BatchStatus.DONE:
            return 100
        if not self.records_total:
            return 0
        return min(99, int(100 * self.records_done / self.records_total))


class UsageEvent(models.Model):
    """One provider response. Unique per (organization, request_id). Never prompt content.

    The four relations the ingestion pipeline fills (organization, unit, price, ingest_batch)
    have no database constraint (`db_constraint=False`): their deferred checks, one query per
    row and relation, cost more than the row's COPY itself. The pipeline only writes ids it has
    just read from the organisation's own rows, nothing deletes a unit, price or batch that
    events point to (PROTECT, enforced by Django's deletion collector, which reads these
    relations like any other), and deleting an organisation cascades through Django."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    request_id = models.CharField(max_length=200)
    provider_response_id = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField()
    provider = models.CharField(max_length=60)
    model = models.CharField(max_length=200)
    model_raw = models.CharField(max_length=200)
    input_tokens = models.BigIntegerField()
    output_tokens = models.BigIntegerField()
    cached_input_tokens = models.BigIntegerField(default=0)
    cache_write_input_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    batch = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    is_error = models.BooleanField(default=False)
    retry_of = models.CharField(max_length=200, blank=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    team = models.CharField(max_length=200, blank=True)
    service = models.CharField(max_length=200, blank=True)
    cost_center = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=60, blank=True)
    workflow = models.CharField(max_length=200, blank=True)
    prompt_template = models.CharField(max_length=200, blank=True)
    user_ref = models.CharField(max_length=200, blank=True)
    gateway_key_id = models.CharField(max_length=200, blank=True)
    provider_account = models.CharField(max_length=200, blank=True)
    unit = models.ForeignKey(
        BusinessUnit, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    attribution = models.CharField(max_length=20)
    price = models.ForeignKey(
        ModelPrice, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    cost = models.DecimalField(**COST)
    currency = models.CharField(max_length=3)
    cache_hit = models.BooleanField(
        default=False, help_text="Served from the gateway's cache: counted, not charged."
    )
    price_method = models.CharField(
        max_length=40,
        blank=True,
        help_text='How the price was found when not directly: "openai price (azure deployment)".',
    )
    repriced_cost = models.DecimalField(
        **COST, null=True, blank=True, help_text="Latest re-pricing run's cost."
    )
    repriced_price = models.ForeignKey(
        ModelPrice, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    repriced_price_method = models.CharField(
        max_length=40,
        blank=True,
        db_default="",  # the bulk writer (rows.py) names its columns: the database fills this
        help_text="How the latest re-pricing run found the price (as `price_method`).",
    )
    fingerprint = models.CharField(
        max_length=40, help_text="Hash of the usage, to tell repeats from conflicts."
    )
    ingest_batch = models.ForeignKey(
        IngestBatch, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    ingested_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "request_id"], name="usage_event_unique_request"
            )
        ]
        indexes = [
            models.Index(fields=["organization", "occurred_at"]),
            models.Index(fields=["organization", "unit", "occurred_at"]),
            # Spend that fell back to the central bucket, by gateway key: what "absorb once,
            # then enforce" asks (readiness, and authorize about a key it does not know).
            models.Index(
                fields=["organization", "gateway_key_id", "occurred_at"],
                condition=models.Q(attribution="central"),
                name="usage_event_fallback_by_key",
            ),
        ]

    def __str__(self) -> str:
        return self.request_id


class QuarantineStatus(models.TextChoices):
    OPEN = "open", "Open"
    REPLAYED = "replayed", "Replayed"
    DISCARDED = "discarded", "Discarded"


class QuarantinedEvent(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    batch = models.ForeignKey(IngestBatch, on_delete=models.PROTECT, related_name="quarantine")
    line = models.PositiveIntegerField(
        help_text="Line (NDJSON/CSV) or index (JSON array) in the batch."
    )
    request_id = models.CharField(max_length=200, blank=True)
    raw = models.TextField(help_text="The record as received.")
    reasons = models.JSONField(help_text='[{"field": ..., "problem": ...}]')
    reason = models.CharField(
        max_length=40, db_index=True, help_text="The first reason's code, for filters."
    )
    status = models.CharField(
        max_length=20, choices=QuarantineStatus.choices, default=QuarantineStatus.OPEN
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.CharField(max_length=500, blank=True)
    replayed_in = models.ForeignKey(
        IngestBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="replays"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "line"], name="quarantine_unique_line")
        ]

    def __str__(self) -> str:
        return f"{self.request_id or 'record'} (line {self.line}): {self.reason}"


class RollupSums(models.Model):
    """What a DailyUsage or MonthlyUsage row adds up."""

    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cached_input_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(**COST, default=0)
    error_cost = models.DecimalField(**COST, default=0)
    cache_hit_tokens = models.BigIntegerField(
        default=0,
        help_text="Input + output tokens of cache hits (within the token sums): counted, "
        "never charged, outside the tier volume.",
    )

    class Meta:
        abstract = True


class DailyUsage(RollupSums):
    """The rollup: one row per (day in the org's timezone, unit, service, provider, model,
    environment, attribution). MonthlyUsage and DailyUnitUsage hold its sums coarser;
    `usage.rollup.write_rollup` writes all three."""

    # No index of its own: (organization, day) serves every read, and a lone organization
    # index tempts the planner into reading all of an organisation's days for a few of them.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    unit = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, related_name="+")
    service = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=60)
    model = models.CharField(max_length=200)
    environment = models.CharField(max_length=60, blank=True)
    attribution = models.CharField(max_length=20)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "organization",
                    "day",
                    "unit",
                    "service",
                    "provider",
                    "model",
                    "environment",
                    "attribution",
                ],
                name="daily_usage_unique_dims",
            )
        ]
        indexes = [models.Index(fields=["organization", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.unit_id} {self.provider}/{self.model}"


# MonthlyUsage's keys: per unit, and for the whole organisation (no unit)
UNIT_KEYS = ["organization", "month", "unit", "dimension", "service", "provider", "model", "environment"]  # fmt: skip
ORG_KEYS = [k for k in UNIT_KEYS if k != "unit"]


class MonthlyUsage(RollupSums):
    """DailyUsage summed per month, one dimension at a time: for each (month, unit) a row of
    the unit's totals, one per service, one per provider and model, and one per environment
    (the other dimensions blank); and the same per service, model and environment for the
    whole organisation (no unit), which is what a page that sees every unit reads. What the
    showback pages group by, so a long range reads its whole months here (a few rows per unit
    and month) and only some edge days from DailyUsage. Written with DailyUsage, in the same
    transaction (`usage.rollup.write_rollup`)."""

    UNIT, SERVICE, MODEL, ENVIRONMENT = "unit", "service", "model", "environment"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    month = models.DateField(help_text="The month's first day.")
    unit = models.ForeignKey(
        BusinessUnit,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text="Empty: every unit of the organisation (services, models, environments).",
    )
    dimension = models.CharField(max_length=12)
    service = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=60, blank=True)
    model = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=60, blank=True)
    central_cost = models.DecimalField(
        **COST, default=0, help_text="The cost that fell back to the central bucket."
    )

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["month"]
        constraints = [
            models.UniqueConstraint(
                fields=UNIT_KEYS,
                condition=models.Q(unit__isnull=False),
                name="monthly_usage_unique_dims",
            ),
            models.UniqueConstraint(
                fields=ORG_KEYS,
                condition=models.Q(unit__isnull=True),
                name="monthly_usage_unique_org_dims",
            ),
        ]
        indexes = [models.Index(fields=["organization", "month"])]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.unit_id} {self.dimension}"


class DailyUnitUsage(models.Model):
    """DailyUsage summed per day and unit (over services, models, environments and
    attributions): the daily spend charts and the forecast read it when no dimension filter
    narrows them, a quarter of the rows or fewer. Written with DailyUsage
    (`usage.rollup.write_rollup`)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    unit = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, related_name="+")
    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    cost = models.DecimalField(**COST, default=0)
    error_cost = models.DecimalField(**COST, default=0)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "day", "unit"], name="daily_unit_usage_unique_dims"
            )
        ]
        indexes = [models.Index(fields=["organization", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.unit_id}"
