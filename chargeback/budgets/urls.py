from django.urls import path

from chargeback.budgets import views

app_name = "budgets"
urlpatterns = [
    path("budgets/", views.budget_list, name="budget-list"),
    path("budgets/units/<int:unit_id>/", views.budget_edit, name="budget-edit"),
    path("alerts/", views.alert_list, name="alert-list"),
    path("alert-webhooks/", views.webhook_list, name="webhook-list"),
    path("alert-deliveries/", views.delivery_list, name="delivery-list"),
]
