"""Accounts, the organization switcher, members and error pages."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import get_object_or_404, redirect, render
from django.template import loader
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from chargeback.tenancy.forms import MemberForm
from chargeback.tenancy.members import add_member, change_member, remove_member, set_password_link
from chargeback.tenancy.models import Membership, Role
from chargeback.tenancy.permissions import org_permission
from chargeback.tenancy.scoping import within

log = logging.getLogger(__name__)


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@login_required
def home(request: HttpRequest) -> HttpResponse:
    memberships = list(request.user.memberships.select_related("organization"))
    if len(memberships) != 1:
        return redirect("org-list")
    membership = memberships[0]
    org = membership.organization
    if membership.role == Role.TEAM_LEAD:
        # A team lead lands on the spend of the (first) unit it leads.
        with within(org):
            unit = membership.units.order_by("code").first()
        if unit is not None:
            return redirect("dashboards:unit-spend", org_slug=org.slug, unit_id=unit.pk)
    return redirect("dashboards:overview", org_slug=org.slug)


@login_required
def org_list(request: HttpRequest) -> HttpResponse:
    memberships = request.user.memberships.select_related("organization").order_by(
        "organization__name"
    )
    return render(request, "tenancy/org_list.html", {"memberships": memberships})


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


def _error(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    if request.path_info.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"detail": message}, status=status)
    return render(
        request, "error.html", {"status": status, "title": title, "message": message}, status=status
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400, "Bad request", "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(
        request,
        403,
        "Not allowed",
        str(exception) if exception and str(exception) else "Your role does not allow this.",
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "Not found", "There is nothing here, or it is not yours to see.")


def server_error(request: HttpRequest) -> HttpResponse:
    """The static templates/500.html, rendered without context processors: the failure may
    be the database, which the tenant context (and the session behind `user`) would query."""
    message = "The error was logged. Please try again, or tell your administrator."
    if request.path_info.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"detail": message}, status=500)
    return HttpResponseServerError(loader.render_to_string("500.html"))
