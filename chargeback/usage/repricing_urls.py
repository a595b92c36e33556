"""The re-pricing pages. chargeback/urls.py serves them in the `pricing` namespace, next to the
price book they re-apply."""

from django.urls import path

from chargeback.usage import repricing_views

urlpatterns = [
    path("prices/repricing/", repricing_views.repricing_list, name="repricing-list"),
    path("prices/repricing/new/", repricing_views.repricing_create, name="repricing-create"),
    path(
        "prices/repricing/<int:run_id>/", repricing_views.repricing_detail, name="repricing-detail"
    ),
]
