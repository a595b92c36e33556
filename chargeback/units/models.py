"""Organisation structure: business units (a tree), services, gateway keys, provider accounts
and ordered ownership rules. Every row carries its organization and a scoped manager."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django_scopes import ScopedManager

from chargeback.tenancy.models import Organization
from chargeback.units.tree import would_cycle

CODE_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$",
    "Use 1-40 letters, digits, '.', '_' or '-', starting with a letter or digit.",
)
MATCH_FIELDS = ("team", "service", "cost_center", "environment", "gateway_key")


class BillingMode(models.TextChoices):
    SHOWBACK = "showback", "Showback"
    CHARGEBACK = "chargeback", "Chargeback"


class UnitKind(models.TextChoices):
    DIVISION = "division", "Division"
    DEPARTMENT = "department", "Department"
    TEAM = "team", "Team"


class BusinessUnit(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="units")
    code = models.CharField("cost-center code", max_length=40, validators=[CODE_VALIDATOR])
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=UnitKind.choices, default=UnitKind.TEAM)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    owner_email = models.EmailField("owner", max_length=254)
    billing_mode = models.CharField(
        max_length=20, choices=BillingMode.choices, default=BillingMode.SHOWBACK
    )
    is_central = models.BooleanField(
        "central bucket", default=False, help_text="Absorbs unallocated cost by policy."
    )
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "code"], name="unit_code_unique_per_org"
            ),
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(is_central=True),
                name="one_central_unit_per_org",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        others = BusinessUnit.objects.with_scopes_disabled().filter(
            organization_id=self.organization_id
        )
        if self.pk:
            others = others.exclude(pk=self.pk)
        if self.code and others.filter(code__iexact=self.code).exists():
            errors["code"] = f'The code "{self.code}" is already used by another unit.'
        if self.parent_id:
            parent = self.parent
            if parent.organization_id != self.organization_id:
                errors["parent"] = "The parent must belong to the same organization."
            elif parent.archived:
                errors["parent"] = (
                    f'The parent "{parent.code}" is archived: restore it or pick another.'
                )
            elif self.pk:
                parents = dict(
                    BusinessUnit.objects.with_scopes_disabled()
                    .filter(organization_id=self.organization_id)
                    .values_list("id", "parent_id")
                )
                if would_cycle(parents, self.pk, self.parent_id):
                    errors["parent"] = (
                        f'"{parent.code}" is this unit or one of its descendants: that would make a cycle.'
                    )
        if self.archived and self.is_central:
            errors["archived"] = "The central bucket cannot be archived."
        if self.pk and not self.is_central:
            was_central = (
                BusinessUnit.objects.with_scopes_disabled()
                .filter(pk=self.pk, is_central=True)
                .exists()
            )
            if was_central:
                errors["is_central"] = (
                    "An organization always has one central bucket: mark another unit central instead."
                )
        if errors:
            raise ValidationError(errors)


class ServiceKind(models.TextChoices):
    SERVICE = "service", "Service"
    WORKFLOW = "workflow", "Workflow"


class Service(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="services"
    )
    name = models.CharField(max_length=200, validators=[CODE_VALIDATOR])
    kind = models.CharField(max_length=20, choices=ServiceKind.choices, default=ServiceKind.SERVICE)
    unit = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, related_name="services")
    description = models.CharField(max_length=500, blank=True)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="service_name_unique_per_org"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        others = Service.objects.with_scopes_disabled().filter(organization_id=self.organization_id)
        if self.pk:
            others = others.exclude(pk=self.pk)
        if self.name and others.filter(name__iexact=self.name).exists():
            errors["name"] = f'A service named "{self.name}" already exists.'
        errors.update(_check_unit(self))
        if errors:
            raise ValidationError(errors)


class GatewayKey(models.Model):
    """A gateway's API key id (never the secret) -> the unit, service and owner it belongs to."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="gateway_keys"
    )
    key_id = models.CharField("gateway key id", max_length=200, validators=[CODE_VALIDATOR])
    unit = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, related_name="gateway_keys")
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.PROTECT, related_name="gateway_keys"
    )
    environment = models.CharField(max_length=40, blank=True, default="production")
    owner_email = models.EmailField("owner", max_length=254)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["key_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "key_id"], name="gateway_key_unique_per_org"
            )
        ]

    def __str__(self) -> str:
        return self.key_id

    def clean(self) -> None:
        errors: dict[str, str] = {}
        others = GatewayKey.objects.with_scopes_disabled().filter(
            organization_id=self.organization_id
        )
        if self.pk:
            others = others.exclude(pk=self.pk)
        existing = others.filter(key_id=self.key_id).select_related("unit").first()
        if self.key_id and existing:
            errors["key_id"] = (
                f'The gateway key "{self.key_id}" is already mapped to {existing.unit.code}.'
            )
        errors.update(_check_unit(self))
        if self.service_id and self.service.organization_id != self.organization_id:
            errors["service"] = "The service must belong to the same organization."
        if errors:
            raise ValidationError(errors)


class ProviderAccount(models.Model):
    """A provider account or project (e.g. OpenAI `proj_support`) that belongs to one unit."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="provider_accounts"
    )
    provider = models.CharField(max_length=60)
    account = models.CharField(max_length=200)
    unit = models.ForeignKey(
        BusinessUnit, on_delete=models.PROTECT, related_name="provider_accounts"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["provider", "account"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "provider", "account"],
                name="provider_account_unique_per_org",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.account}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        others = ProviderAccount.objects.with_scopes_disabled().filter(
            organization_id=self.organization_id, provider=self.provider, account=self.account
        )
        if self.pk:
            others = others.exclude(pk=self.pk)
        existing = others.select_related("unit").first()
        if existing:
            errors["account"] = (
                f'The account "{self.provider}/{self.account}" is already mapped to {existing.unit.code}.'
            )
        errors.update(_check_unit(self))
        if errors:
            raise ValidationError(errors)


class OwnershipRule(models.Model):
    """Ordered tag match -> unit. Every non-empty match field must equal the event's value."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="ownership_rules"
    )
    position = models.PositiveIntegerField(default=0)
    match_team = models.CharField("team", max_length=200, blank=True)
    match_service = models.CharField("service", max_length=200, blank=True)
    match_cost_center = models.CharField("cost center", max_length=200, blank=True)
    match_environment = models.CharField("environment", max_length=200, blank=True)
    match_gateway_key = models.CharField("gateway key", max_length=200, blank=True)
    unit = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, related_name="ownership_rules")
    description = models.CharField(max_length=300, blank=True)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        parts = [f"{f}={v}" for f, v in self.match.items()]
        return (
            f"#{self.position}: "
            + (", ".join(parts) or "(matches nothing)")
            + f" → {self.unit.code}"
        )

    def save(self, *args, **kwargs):
        if self.pk is None and not self.position:
            last = (
                OwnershipRule.objects.with_scopes_disabled()
                .filter(organization_id=self.organization_id)
                .aggregate(m=models.Max("position"))["m"]
            )
            self.position = (last or 0) + 1
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if not self.match:
            errors["match_team"] = "A rule needs at least one field to match."
        errors.update(_check_unit(self))
        if errors:
            raise ValidationError(errors)

    @property
    def match(self) -> dict[str, str]:
        return {f: getattr(self, f"match_{f}") for f in MATCH_FIELDS if getattr(self, f"match_{f}")}


def _check_unit(obj: models.Model) -> dict[str, str]:
    """The shared rule for rows that point at a unit: same organization, not archived."""
    if not obj.unit_id:
        return {}
    unit = obj.unit
    if unit.organization_id != obj.organization_id:
        return {"unit": "The unit must belong to the same organization."}
    if unit.archived and not getattr(obj, "archived", False):
        return {"unit": f'The unit "{unit.code}" is archived: restore it or pick another.'}
    return {}
