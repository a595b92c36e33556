"""The member pages. chargeback/urls.py serves them in the `tenancy` namespace."""

from django.urls import path

from chargeback.members import views

urlpatterns = [
    path("members/", views.member_list, name="member-list"),
    path("members/new/", views.member_create, name="member-create"),
    path("members/<int:member_id>/edit/", views.member_edit, name="member-edit"),
    path("members/<int:member_id>/remove/", views.member_remove, name="member-remove"),
]
