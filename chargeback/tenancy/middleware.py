"""Resolve `/o/<org_slug>/...` to the organization and the user's membership, and run the
request inside the organisation's scope (`tenancy.scoping.within`).

Anonymous users go to the login page; a logged-in user who is not a member gets 404, so an
organization's existence does not leak."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils import timezone

from chargeback.tenancy.models import Membership
from chargeback.tenancy.scoping import within

# Every route with an `<org_slug>` lies under one of these (a test walks the URL patterns to keep
# it so); other paths, the ingestion API among them, are not resolved twice.
ORG_PREFIXES = ("/o/", "/api/v1/o/")


class TenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.org = None
        request.membership = None
        if not request.path_info.startswith(ORG_PREFIXES):
            return self.get_response(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        slug = match.kwargs.get("org_slug")
        if slug is None:
            return self.get_response(request)
        if not request.user.is_authenticated:
            if request.path_info.startswith("/api/"):
                return JsonResponse(
                    {"detail": "Authentication credentials were not provided."}, status=401
                )
            return redirect_to_login(request.get_full_path())
        membership = (
            Membership.objects.select_related("organization")
            .filter(user=request.user, organization__slug=slug)
            .first()
        )
        if membership is None:
            if request.path_info.startswith("/api/"):
                return JsonResponse({"detail": "Not found."}, status=404)
            return render(request, "404.html", status=404)
        request.org = membership.organization
        request.membership = membership
        with within(membership.organization), timezone.override(membership.organization.tz):
            return self.get_response(request)


def require_org(request: HttpRequest) -> None:
    if getattr(request, "org", None) is None:
        raise Http404("No organization.")
