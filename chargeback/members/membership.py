"""Membership operations: add, change role, assign a team lead's units, remove.
The last admin of an organization can be neither removed nor demoted."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from chargeback.audit.log import record
from chargeback.tenancy.models import Membership, Organization, Role
from chargeback.tenancy.tasks import send_invitation
from chargeback.units.models import BusinessUnit


def set_password_link(user: Any) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    return settings.SITE_URL.rstrip("/") + path


def _member_snapshot(m: Membership) -> dict:
    return {
        "user": m.user.email,
        "role": m.role,
        "units": sorted(m.units.values_list("code", flat=True)) if m.pk else [],
    }


def add_member(
    *,
    organization: Organization,
    actor: Any,
    email: str,
    role: str,
    units: Iterable[BusinessUnit] = (),
    name: str = "",
) -> tuple[Membership, str | None]:
    """Add a user (created if new) to the organization. Returns the membership and, for a user
    without a usable password, a set-password link to hand over."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": f'"{email}" is not a valid email address.'}) from exc
    if role not in Role.values:
        raise ValidationError({"role": f'Unknown role "{role}".'})
    units = list(units)
    if role == Role.TEAM_LEAD and not units:
        raise ValidationError({"units": "A team lead needs at least one unit to lead."})
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.filter(username__iexact=email).first()
        if user is None:
            first, _, last = name.partition(" ")
            user = User.objects.create_user(
                username=email, email=email, first_name=first[:150], last_name=last[:150]
            )
        if Membership.objects.filter(user=user, organization=organization).exists():
            raise ValidationError({"email": f"{email} is already a member of {organization.name}."})
        membership = Membership.objects.create(user=user, organization=organization, role=role)
        _set_units(membership, units)
        record(
            organization=organization,
            actor=actor,
            action="membership.created",
            obj=membership,
            after=_member_snapshot(membership),
            object_repr=f"{email} as {role}",
        )
        link = None if user.has_usable_password() else set_password_link(user)
        if link:
            transaction.on_commit(lambda: send_invitation.delay(membership.pk, link))
    return membership, link


def _set_units(membership: Membership, units: Iterable[BusinessUnit]) -> None:
    units = list(units)
    for unit in units:
        if unit.organization_id != membership.organization_id:
            raise ValidationError({"units": "Units must belong to the same organization."})
    if membership.role == Role.TEAM_LEAD:
        membership.units.set(units)
    else:
        membership.units.clear()


def _admins_left(membership: Membership) -> int:
    return (
        Membership.objects.filter(organization=membership.organization_id, role=Role.ADMIN)
        .exclude(pk=membership.pk)
        .count()
    )


def change_member(
    *, membership: Membership, actor: Any, role: str, units: Iterable[BusinessUnit] = ()
) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": f'Unknown role "{role}".'})
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        before = _member_snapshot(membership)
        if membership.role == Role.ADMIN and role != Role.ADMIN and _admins_left(membership) == 0:
            raise ValidationError(
                {"role": "This is the organization's last admin: make someone else admin first."}
            )
        units = list(units)
        if role == Role.TEAM_LEAD and not units:
            raise ValidationError({"units": "A team lead needs at least one unit to lead."})
        membership.role = role
        membership.save(update_fields=["role"])
        _set_units(membership, units)
        after = _member_snapshot(membership)
        if before != after:
            record(
                organization=membership.organization,
                actor=actor,
                action="membership.updated",
                obj=membership,
                before=before,
                after=after,
                object_repr=membership.user.email,
            )
    return membership


def remove_member(*, membership: Membership, actor: Any) -> None:
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == Role.ADMIN and _admins_left(membership) == 0:
            raise ValidationError(
                {"role": "This is the organization's last admin and cannot be removed."}
            )
        before = _member_snapshot(membership)
        record(
            organization=membership.organization,
            actor=actor,
            action="membership.removed",
            obj=membership,
            before=before,
            object_repr=membership.user.email,
        )
        membership.delete()
