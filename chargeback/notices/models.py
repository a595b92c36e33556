"""A notice: one message to one member, shown in the app (the bell, the notices page) and
mailed. `key` names what it is about ("dispute:12:event:40", "statement:7:window:2026-11-09");
the unique constraint on (organization, user, key) makes each notice reach each member once,
however many workers or beat runs try."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django_scopes import ScopedManager

from chargeback.tenancy.models import Organization


class Notice(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    subject = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)  # a path on this site
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user", "key"], name="notice_once_per_user"
            )
        ]
        indexes = [models.Index(fields=["user", "organization", "read_at"], name="notice_bell")]

    def __str__(self) -> str:
        return f"notice {self.key} to user {self.user_id}"
