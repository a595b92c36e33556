from importlib import import_module

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from health_check.checks import Database
from health_check.views import HealthCheckView

from chargeback.tenancy import views as tenancy_views
from chargeback.usage.health import health_checks


def namespace(name: str, *modules: str) -> tuple:
    """One URL namespace for the routes of one or more apps' `urls` modules. A page keeps its
    URL name when its code sits in another app: an app may import only the apps below it (see
    [tool.importlinter] in pyproject.toml), so the re-pricing pages, for one, live in usage but
    stay `pricing:repricing-*`."""
    patterns = [p for module in modules for p in import_module(module).urlpatterns]
    return include((patterns, name))


# The API docs: Swagger UI with its set-up script as a file (no inline script: CSP); behind
# sign-in, like the schema (SPECTACULAR_SETTINGS' SERVE_PERMISSIONS), unless API_DOCS_PUBLIC.
api_docs = SpectacularSwaggerSplitView.as_view(url_name="schema")
if not settings.API_DOCS_PUBLIC:
    api_docs = login_required(api_docs)

org_patterns = [
    path("", include("chargeback.dashboards.urls")),
    path("", namespace("units", "chargeback.units.urls", "chargeback.provisioning.urls")),
    path("", include("chargeback.usage.urls")),
    path("", namespace("pricing", "chargeback.pricing.urls", "chargeback.usage.repricing_urls")),
    path("", namespace("tenancy", "chargeback.members.urls")),
    path("", include("chargeback.billing.urls")),
    path("", include("chargeback.budgets.urls")),
    path("", include("chargeback.wallets.urls")),
    path("", include("chargeback.gateway.urls")),
    path("", include("chargeback.disputes.urls")),
    path("", include("chargeback.notices.urls")),
    path("", include("chargeback.reconciliation.urls")),
    path("", namespace("allocation", "chargeback.billing.policy_urls")),
    path("audit/", include("chargeback.audit.urls")),
]

urlpatterns = [
    path("", tenancy_views.home, name="home"),
    path("orgs/", tenancy_views.org_list, name="org-list"),
    path("accounts/login/", tenancy_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(template_name="registration/password_change.html"),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="registration/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path(
        "accounts/set-password/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="registration/set_password.html",
            success_url="/accounts/set-password/done/",
        ),
        name="password_reset_confirm",
    ),
    path(
        "accounts/set-password/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="registration/set_password_done.html"
        ),
        name="password_reset_complete",
    ),
    path("o/<slug:org_slug>/", include(org_patterns)),
    path("api/", include("chargeback.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("admin/", admin.site.urls),
    # No sign-in, no tenant data (deploy/README.md): everything, and the web tier alone.
    path("health/", HealthCheckView.as_view(checks=health_checks()), name="health"),
    path("health/web/", HealthCheckView.as_view(checks=[Database]), name="health-web"),
]

handler400 = "chargeback.tenancy.views.bad_request"
handler403 = "chargeback.tenancy.views.permission_denied"
handler404 = "chargeback.tenancy.views.page_not_found"
handler500 = "chargeback.tenancy.views.server_error"
