from importlib import import_module

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from chargeback.tenancy import views as tenancy_views


def namespace(name: str, *modules: str) -> tuple:
    """One URL namespace for the routes of one or more apps' `urls` modules. A page keeps its
    URL name when its code sits in another app: an app may import only the apps below it (see
    [tool.importlinter] in pyproject.toml), so the re-pricing pages, for one, live in usage but
    stay `pricing:repricing-*`."""
    patterns = [p for module in modules for p in import_module(module).urlpatterns]
    return include((patterns, name))


org_patterns = [
    path("", include("chargeback.dashboards.urls")),
    path("", namespace("units", "chargeback.units.urls", "chargeback.provisioning.urls")),
    path("", include("chargeback.usage.urls")),
    path("", namespace("pricing", "chargeback.pricing.urls", "chargeback.usage.repricing_urls")),
    path("", namespace("tenancy", "chargeback.members.urls")),
    path("", include("chargeback.billing.urls")),
    path("", include("chargeback.budgets.urls")),
    path("", include("chargeback.wallets.urls")),
    path("", include("chargeback.disputes.urls")),
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
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]

handler400 = "chargeback.tenancy.views.bad_request"
handler403 = "chargeback.tenancy.views.permission_denied"
handler404 = "chargeback.tenancy.views.page_not_found"
handler500 = "chargeback.tenancy.views.server_error"
