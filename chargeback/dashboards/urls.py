from django.urls import path

from chargeback.dashboards import views

app_name = "dashboards"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("units/<int:unit_id>/spend/", views.unit_spend, name="unit-spend"),
    path("events/export/", views.events_export, name="events-export"),
]
