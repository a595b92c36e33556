from django.urls import path

from chargeback.disputes import enforcement_views, views

app_name = "disputes"

urlpatterns = [
    path("disputes/", views.dispute_list, name="dispute-list"),
    path("disputes/<int:dispute_id>/", views.dispute_detail, name="dispute-detail"),
    path("disputes/<int:dispute_id>/act/", views.dispute_act, name="dispute-act"),
    path("statements/<int:statement_id>/dispute/", views.dispute_new, name="dispute-new"),
    path("disputes/enforcement/", enforcement_views.enforcement_list, name="enforcement-list"),
]
