from django.urls import path

from chargeback.api import views

app_name = "api"
urlpatterns = [
    path("v1/o/<slug:org_slug>/units/", views.UnitList.as_view(), name="unit-list"),
    path(
        "v1/o/<slug:org_slug>/units/<int:unit_id>/", views.UnitDetail.as_view(), name="unit-detail"
    ),
]
