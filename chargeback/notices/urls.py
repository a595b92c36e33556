from django.urls import path

from chargeback.notices import views

app_name = "notices"
urlpatterns = [
    path("notices/", views.notice_list, name="notice-list"),
]
