"""Organizations (the tenant) and memberships (user x organization x role)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from chargeback.calendar import (
    DISPUTE_WINDOW_DAYS,
    BusinessCalendar,
    local_today,
    parse_closure_days,
    subdivisions,
)
from chargeback.money import KNOWN_CURRENCIES
from chargeback.tenancy.permissions import role_has_perm

SLUG_VALIDATOR = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1-50 lowercase letters, digits or hyphens, not starting or ending with a hyphen.",
)
DEFAULT_REQUIRED_TAGS = ["team", "service", "cost_center", "environment"]


def validate_currency(value: str) -> None:
    if value not in KNOWN_CURRENCIES:
        raise ValidationError(f'Unknown currency "{value}": use an ISO 4217 code such as USD.')


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            f'Unknown timezone "{value}": use an IANA name such as Europe/Berlin.'
        )


def validate_country(value: str) -> None:
    import holidays  # noqa: PLC0415 (slow to import; only settings forms need it)

    if value and value not in holidays.list_supported_countries():
        raise ValidationError(f'Unknown country "{value}": use an ISO 3166 code such as DE.')


def validate_closure_days(value: object) -> None:
    try:
        parse_closure_days(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


DEFAULT_ABSORB_POLICY = "the platform absorbs it once, then the gateway enforces tags"


def default_required_tags() -> list[str]:
    return list(DEFAULT_REQUIRED_TAGS)


class Organization(models.Model):
    slug = models.SlugField(max_length=50, unique=True, validators=[SLUG_VALIDATOR])
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    country = models.CharField(max_length=2, blank=True, default="", validators=[validate_country])
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    subdivision = models.CharField(
        max_length=10,
        blank=True,
        default="",
        help_text="State or region code, e.g. BY for Bavaria.",
    )
    closure_days = models.JSONField(
        default=list, blank=True, validators=[validate_closure_days],
        help_text="The organisation's own closure days (YYYY-MM-DD): not business days.",
    )  # fmt: skip
    dispute_review_days = models.PositiveSmallIntegerField(
        default=DISPUTE_WINDOW_DAYS, help_text="Business days after issue to open a dispute."
    )
    dispute_response_days = models.PositiveSmallIntegerField(
        default=DISPUTE_WINDOW_DAYS, help_text="Business days finance has to answer a dispute."
    )
    dispute_absorb_policy = models.CharField(
        max_length=300,
        default=DEFAULT_ABSORB_POLICY,
        help_text="Who absorbs a cost no unit owns (an accepted wrong-owner dispute with no "
        "right unit), as the statements and the enforcement list say it.",
    )
    required_tags = models.JSONField(default=default_required_tags, blank=True)
    logo = models.FileField(
        upload_to="logos/", blank=True, help_text="PNG, JPEG or SVG, printed on statements."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.subdivision and self.subdivision not in subdivisions(self.country):
            known = ", ".join(subdivisions(self.country)) or "none"
            raise ValidationError(
                {
                    "subdivision": f'Unknown subdivision "{self.subdivision}" of country '
                    f'"{self.country or "-"}" (known: {known}).'
                }
            )

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def calendar(self) -> BusinessCalendar:
        """Its business days: weekends, public holidays of country and subdivision, closures."""
        return BusinessCalendar.of(self)

    def today(self) -> dt.date:
        return local_today(self.tz)

    def dispute_deadline(self, issued_on: dt.date) -> dt.date:
        """The last day to dispute a statement issued on `issued_on`."""
        return self.calendar.deadline(issued_on, self.dispute_review_days)


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    FINANCE = "finance", "Finance"
    TEAM_LEAD = "team_lead", "Team lead"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    """Not scoped by django-scopes: it is how a request finds its organization."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    units = models.ManyToManyField("units.BusinessUnit", blank=True, related_name="leads")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization__name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} as {self.role}"

    def has_perm(self, perm: str) -> bool:
        return role_has_perm(self.role, perm)
