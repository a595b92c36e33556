"""Member pages: the members of an organisation, add one, change a role or a team lead's
units, remove one. chargeback/urls.py serves them in the `tenancy` namespace."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from chargeback.members.forms import MemberForm
from chargeback.members.membership import (
    add_member,
    change_member,
    remove_member,
    set_password_link,
)
from chargeback.tenancy.models import Membership
from chargeback.tenancy.permissions import org_permission


def _form_errors(form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@org_permission("members.manage")
def member_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    members = (
        Membership.objects.filter(organization=request.org)
        .select_related("user")
        .prefetch_related("units")
        .order_by("user__email")
    )
    return render(request, "tenancy/member_list.html", {"members": members})


@org_permission("members.manage")
@require_http_methods(["GET", "POST"])
def member_create(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = MemberForm(request.POST or None, organization=request.org)
    if request.method == "POST" and form.is_valid():
        try:
            membership, link = add_member(
                organization=request.org,
                actor=request.user,
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                role=form.cleaned_data["role"],
                units=form.cleaned_data["units"],
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(
                request, f"{membership.user.email} was added as {membership.get_role_display()}."
            )
            if link:
                messages.info(request, f"Set-password link (also emailed): {link}")
            return redirect("tenancy:member-list", org_slug=org_slug)
    return render(request, "tenancy/member_form.html", {"form": form, "title": "Add a member"})


@org_permission("members.manage")
@require_http_methods(["GET", "POST"])
def member_edit(request: HttpRequest, org_slug: str, member_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership, organization=request.org, pk=member_id)
    initial = {"role": membership.role, "units": list(membership.units.all())}
    form = MemberForm(request.POST or None, organization=request.org, editing=True, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            change_member(
                membership=membership,
                actor=request.user,
                role=form.cleaned_data["role"],
                units=form.cleaned_data["units"],
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"{membership.user.email} was updated.")
            return redirect("tenancy:member-list", org_slug=org_slug)
    link = None if membership.user.has_usable_password() else set_password_link(membership.user)
    return render(
        request,
        "tenancy/member_form.html",
        {
            "form": form,
            "title": f"Edit {membership.user.email}",
            "member": membership,
            "link": link,
        },
    )


@org_permission("members.manage")
@require_http_methods(["GET", "POST"])
def member_remove(request: HttpRequest, org_slug: str, member_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership, organization=request.org, pk=member_id)
    if request.method == "POST":
        try:
            remove_member(membership=membership, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("tenancy:member-list", org_slug=org_slug)
        messages.success(request, f"{membership.user.email} was removed from {request.org.name}.")
        if membership.user_id == request.user.pk:
            return redirect("home")
        return redirect("tenancy:member-list", org_slug=org_slug)
    return render(
        request,
        "confirm.html",
        {
            "title": f"Remove {membership.user.email}?",
            "body": f"{membership.user.email} will lose access to {request.org.name}. "
            "Their past actions stay in the audit log.",
            "action": "Remove member",
            "cancel_url": reverse("tenancy:member-list", kwargs={"org_slug": org_slug}),
        },
    )
