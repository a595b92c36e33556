"""Browser hardening headers and the idle session timeout, for every response:

- `Content-Security-Policy` (`settings.CONTENT_SECURITY_POLICY`): scripts and styles only from
  our own origin (the vendored htmx and Plotly, static/js), no inline script or style, no
  framing, forms posting only here;
- `Permissions-Policy` (`settings.PERMISSIONS_POLICY`): no camera, microphone, location...;
- `Cache-Control: no-store` (with Django's never-cache headers) on every answer to a signed-in
  user or an API key: pages, exports and PDFs carry one organisation's figures;
- the idle timeout: a signed-in session expires after `SESSION_IDLE_TIMEOUT` seconds without
  a request (`SESSION_COOKIE_AGE` is the same figure; the session is touched at most once a
  minute, so that expiry rolls forward with use)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

TOUCH_EVERY = 60  # seconds: how often an active session's expiry is moved forward
LAST_SEEN = "_last_seen"


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        signed_in = request.user.is_authenticated
        if signed_in:
            _touch(request)
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY:
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        if settings.PERMISSIONS_POLICY:
            response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        if signed_in or "HTTP_AUTHORIZATION" in request.META:
            add_never_cache_headers(response)
        return response


def _touch(request: HttpRequest) -> None:
    """Move the session's expiry forward (it is saved with a fresh SESSION_COOKIE_AGE), at
    most once a minute."""
    now = int(time.time())
    if now - request.session.get(LAST_SEEN, 0) >= TOUCH_EVERY:
        request.session[LAST_SEEN] = now


@receiver(user_logged_in)
def _seen_at_login(sender, request, user, **kwargs) -> None:
    """A login counts as activity: the requests of the next minute need not save the session."""
    if request is not None and hasattr(request, "session"):
        request.session[LAST_SEEN] = int(time.time())
