"""The price book's pages. chargeback/urls.py serves them in the `pricing` namespace, with the
re-pricing pages from usage."""

from django.urls import path

from chargeback.pricing import views

urlpatterns = [
    path("prices/", views.price_list, name="price-list"),
    path("prices/export/", views.price_export, name="price-export"),
    path("prices/import/", views.price_import, name="price-import"),
    path("prices/import/apply/", views.price_import_apply, name="price-import-apply"),
    path("prices/versions/", views.version_list, name="version-list"),
    path("prices/versions/compare/", views.version_diff, name="version-diff"),
    path("prices/versions/<int:version_id>/", views.version_detail, name="version-detail"),
    path("model-aliases/", views.alias_list, name="alias-list"),
    path("model-aliases/new/", views.alias_create, name="alias-create"),
    path("model-aliases/<int:alias_id>/delete/", views.alias_delete, name="alias-delete"),
]
