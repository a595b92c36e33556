"""The allocation policy pages. chargeback/urls.py serves them in the `allocation` namespace."""

from django.urls import path

from chargeback.billing import policy_views as views

urlpatterns = [
    path("policy/", views.policy_list, name="policy-list"),
    path("policy/new/", views.policy_create, name="policy-create"),
    path("policy/<int:policy_id>/", views.policy_detail, name="policy-detail"),
    path("policy/<int:policy_id>/edit/", views.policy_edit, name="policy-edit"),
]
