"""Login throttling and lockout (django-axes): after `AXES_FAILURE_LIMIT` failed logins for one
account, or from one address, further logins for it are refused for `AXES_COOLOFF_TIME`, with
the page `registration/locked_out.html` (HTTP 429). Every login form goes through it: ours and
the Django admin's (both call `authenticate` with the request). A superuser lifts a lockout in
the admin ("Access attempts": delete the row) or with `manage.py axes_reset_username EMAIL`."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render


class LoginThrottle(AxesStandaloneBackend):
    """axes' check, for logins that come with a request. One without (code calling
    `authenticate` directly: a shell, a test client's `login`) has no address to count and is
    passed on to the next backend, as it is not a login form anyone can reach."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """The page a locked-out login gets (`AXES_LOCKOUT_CALLABLE`): HTTP 429, saying why and for
    how long, whichever login form it came from."""
    cool_off = get_cool_off(request)
    minutes = int(cool_off.total_seconds() // 60) if cool_off else None
    return render(
        request,
        "registration/locked_out.html",
        {"failure_limit": get_failure_limit(request, credentials), "minutes": minutes},
        status=429,
    )


def client_address(request) -> str | None:
    """The address a login is counted against (`AXES_CLIENT_IP_CALLABLE`). Behind
    `TRUSTED_PROXY_COUNT` reverse proxies that append to X-Forwarded-For (nginx's
    `$proxy_add_x_forwarded_for`), the entry the farthest trusted proxy appended: what a client
    writes in the header itself sits to its left and is ignored. With none, REMOTE_ADDR."""
    count = settings.TRUSTED_PROXY_COUNT
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [a for a in forwarded if a]
    if count and len(forwarded) >= count:
        return forwarded[-count]
    return request.META.get("REMOTE_ADDR")
