"""Disputes of statement charges, and their timeline.

A team lead (or finance on the unit's behalf) disputes one or more lines of an issued
statement, or the whole statement, within its review window. Finance reviews it, may ask for
more information (the response clock pauses), and resolves it. The states and the allowed
moves between them are `workflow.py`'s; the operations that make them are `operations.py`'s.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django_scopes import ScopedManager

from chargeback.billing.models import AMOUNT, Statement, StatementLine
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit


class Reason(models.TextChoices):
    WRONG_OWNER = "wrong_owner", "Wrong owner"
    TAGS = "tags", "Wrong tags"
    PRICING = "pricing", "Pricing"
    RETRY_STORM = "retry_storm", "Retry storm"
    DUPLICATE = "duplicate", "Duplicate"
    SHARED_ALLOCATION = "shared_allocation", "Shared allocation"
    OTHER = "other", "Other"


class State(models.TextChoices):
    OPEN = "open", "Open"
    UNDER_REVIEW = "under_review", "Under review"
    INFO_REQUESTED = "info_requested", "Information requested"
    ACCEPTED = "accepted", "Accepted"
    PARTIALLY_ACCEPTED = "partially_accepted", "Partially accepted"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Dispute(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="disputes")
    unit = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, related_name="disputes")
    reason = models.CharField(max_length=30, choices=Reason.choices)
    amount = models.DecimalField(**AMOUNT)
    description = models.TextField()
    request_ids = models.JSONField(default=list, blank=True)
    evidence_file = models.FileField(upload_to="disputes/%Y/%m/", blank=True)
    state = models.CharField(max_length=30, choices=State.choices, default=State.OPEN)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    opened_on = models.DateField()
    opened_at = models.DateTimeField(auto_now_add=True)
    respond_by = models.DateField()
    paused_days = models.PositiveIntegerField(default=0)
    paused_since = models.DateField(null=True, blank=True)
    outcome = models.CharField(max_length=30, blank=True)
    credited = models.DecimalField(**AMOUNT, null=True, blank=True)
    reassigned_to = models.ForeignKey(
        BusinessUnit, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_on = models.DateField(null=True, blank=True)
    # the day the organisation's admins were told it is overdue (once)
    overdue_notified_on = models.DateField(null=True, blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-opened_at", "-id"]

    def __str__(self) -> str:
        return f"dispute {self.pk} on {self.statement.number}"


class DisputeLine(models.Model):
    """A statement line a dispute targets (none: the whole statement)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="targets")
    line = models.ForeignKey(StatementLine, on_delete=models.PROTECT, related_name="+")

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["line__position"]
        constraints = [
            models.UniqueConstraint(fields=["dispute", "line"], name="dispute_line_once")
        ]

    def __str__(self) -> str:
        return f"dispute {self.dispute_id}: line {self.line_id}"


class DisputeEvent(models.Model):
    """One step of a dispute's timeline: a transition (from -> to) or a comment."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=30)
    from_state = models.CharField(max_length=30, blank=True)
    to_state = models.CharField(max_length=30, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    actor_label = models.CharField(max_length=254)
    text = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label}"

    @property
    def label(self) -> str:
        """What happened, in words: "started the review", "accepted", ..."""
        return EVENT_LABELS.get(self.action, self.action.replace("_", " "))


EVENT_LABELS = {
    "open": "opened the dispute",
    "start_review": "started the review",
    "request_info": "requested information",
    "answer_info": "answered",
    "accept": "accepted",
    "partially_accept": "partially accepted",
    "reject": "rejected",
    "withdraw": "withdrew the dispute",
    "comment": "commented",
    "overdue": "flagged it overdue",
    "evidence": "added evidence",
}


class EnforcementItem(models.Model):
    """A key or tag behind a cost no unit owned (a wrong-owner dispute accepted with no right
    unit): the central bucket absorbed it under the organisation's absorb policy, and the
    gateway should enforce tags for it from now on."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    dispute = models.OneToOneField(Dispute, on_delete=models.PROTECT, related_name="enforcement")
    kind = models.CharField(max_length=20, help_text="key, tag or unknown")
    value = models.CharField(max_length=200, blank=True)
    amount = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3)
    policy = models.CharField(max_length=300, help_text="The absorb policy it was absorbed under.")
    absorbed_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-absorbed_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.value}".strip()

    @property
    def label(self) -> str:
        if self.kind == "key":
            return f"gateway key {self.value}"
        if self.kind == "tag":
            return f"tag {self.value}"
        return "no key or tag recorded on its requests"
