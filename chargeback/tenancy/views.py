"""Accounts, the organization switcher and error pages."""

from __future__ import annotations

import logging

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader

from chargeback.tenancy.models import Role
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


def _error(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    if request.path_info.startswith("/api/"):
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
        return JsonResponse({"detail": message}, status=500)
    return HttpResponseServerError(loader.render_to_string("500.html"))
