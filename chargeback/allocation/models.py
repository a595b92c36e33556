"""Allocation policies, versioned by the month they take effect from."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django_scopes import ScopedManager

from chargeback.allocation.policy import Policy, PolicyError, parse_policy
from chargeback.tenancy.models import Organization


class AllocationPolicy(models.Model):
    """One version of an organisation's policy; it applies from `effective_from` (the first
    day of a month) until the next version. `document` is the validated policy as the
    configuration file holds it, without `effective_from`."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="allocation_policies"
    )
    effective_from = models.DateField(help_text="The first day of the month it applies from.")
    document = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "effective_from"], name="allocation_policy_unique_month"
            )
        ]

    def __str__(self) -> str:
        return f"policy from {self.month}"

    @property
    def month(self) -> str:
        return f"{self.effective_from:%Y-%m}"

    @property
    def policy(self) -> Policy:
        return parse_policy({**self.document, "effective_from": self.month})

    def clean(self) -> None:
        if self.effective_from and self.effective_from.day != 1:
            raise ValidationError(
                {"effective_from": "A policy takes effect on a month's first day."}
            )
        try:
            self.policy  # noqa: B018
        except PolicyError as exc:
            raise ValidationError({"document": exc.errors}) from exc
