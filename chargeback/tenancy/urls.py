from django.urls import path

from chargeback.tenancy import views

app_name = "tenancy"
urlpatterns = [
    path("members/", views.member_list, name="member-list"),
    path("members/new/", views.member_create, name="member-create"),
    path("members/<int:member_id>/edit/", views.member_edit, name="member-edit"),
    path("members/<int:member_id>/remove/", views.member_remove, name="member-remove"),
]
