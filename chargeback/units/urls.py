"""The unit pages. chargeback/urls.py serves them in the `units` namespace, with the
configuration file's pages from provisioning."""

from django.urls import path

from chargeback.units import views
from chargeback.units.views import ACCOUNT, KEY, RULE, SERVICE

urlpatterns = [
    path("units/", views.unit_list, name="unit-list"),
    path("units/new/", views.unit_create, name="unit-create"),
    path("units/<int:unit_id>/", views.unit_detail, name="unit-detail"),
    path("units/<int:unit_id>/edit/", views.unit_edit, name="unit-edit"),
    path("units/<int:unit_id>/archive/", views.unit_archive, name="unit-archive"),
    path("units/<int:unit_id>/restore/", views.unit_restore, name="unit-restore"),
    path("services/", views.service_list, name="service-list"),
    path("keys/", views.gatewaykey_list, name="gatewaykey-list"),
    path("accounts/", views.provideraccount_list, name="provideraccount-list"),
    path(
        "accounts/<int:object_id>/delete/",
        views.provideraccount_delete,
        name="provideraccount-delete",
    ),
    path("rules/", views.rule_list, name="rule-list"),
    path("rules/<int:object_id>/move/", views.rule_move, name="rule-move"),
]

for prefix, entity in (
    ("services", SERVICE),
    ("keys", KEY),
    ("accounts", ACCOUNT),
    ("rules", RULE),
):
    urlpatterns += [
        path(f"{prefix}/new/", views._entity_create(entity), name=f"{entity.name}-create"),
        path(
            f"{prefix}/<int:object_id>/edit/",
            views._entity_edit(entity),
            name=f"{entity.name}-edit",
        ),
    ]
    if entity.archivable:
        urlpatterns += [
            path(
                f"{prefix}/<int:object_id>/archive/",
                views._entity_archive(entity, True),
                name=f"{entity.name}-archive",
            ),
            path(
                f"{prefix}/<int:object_id>/restore/",
                views._entity_archive(entity, False),
                name=f"{entity.name}-restore",
            ),
        ]
