from django.urls import path

from chargeback.wallets import views

app_name = "wallets"
urlpatterns = [
    path("wallets/", views.wallet_list, name="wallet-list"),
    path("wallets/move/", views.wallet_move, name="wallet-move"),
    path("wallets/<int:wallet_id>/", views.wallet_detail, name="wallet-detail"),
    path("wallets/<int:wallet_id>/ledger.csv", views.wallet_csv, name="wallet-csv"),
]
