from django.urls import path

from chargeback.reconciliation import sample_views, threshold_views, views

app_name = "reconciliation"

urlpatterns = [
    path("invoices/", views.invoice_list, name="invoice-list"),
    path("invoices/upload/", views.invoice_upload, name="invoice-upload"),
    path("invoices/<int:invoice_id>/", views.invoice_detail, name="invoice-detail"),
    path("reconciliation/", views.reconciliation, name="reconciliation"),
    path("readiness/", views.readiness, name="readiness"),
    path("readiness/thresholds/", threshold_views.thresholds, name="thresholds"),
    path("readiness/sample/", sample_views.sample_audit, name="sample-audit"),
]
