from django.urls import path

from chargeback.dashboards import views

app_name = "dashboards"
urlpatterns = [path("", views.overview, name="overview")]
