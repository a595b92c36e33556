"""A test-only urlconf: the real routes plus views that fail, to exercise the error handlers.
Used through `settings.ROOT_URLCONF`; never included by chargeback/urls.py."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from chargeback.urls import handler400, handler403, handler404, handler500, urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def boom(request: HttpRequest, org_slug: str = "") -> HttpResponse:
    raise RuntimeError("kaboom: secret internals")


urlpatterns = [
    path("test-boom/", boom),
    path("o/<slug:org_slug>/test-boom/", boom),
    path("api/test-boom/", boom),
    *urlpatterns,
]
