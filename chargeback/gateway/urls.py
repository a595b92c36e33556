from django.urls import path

from chargeback.gateway import views

app_name = "gateway"
urlpatterns = [
    path("gateway/decisions/", views.decision_list, name="decision-list"),
    path("gateway/decisions.csv", views.decision_csv, name="decision-csv"),
    path("gateway/approvals/", views.approval_list, name="approval-list"),
    path(
        "gateway/approvals/<int:approval_id>/revoke/",
        views.approval_revoke,
        name="approval-revoke",
    ),
]
