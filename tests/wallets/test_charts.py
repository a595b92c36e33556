"""The balance series behind a wallet page's chart (pure)."""

import datetime as dt
from decimal import Decimal as D

from chargeback.wallets.charts import balance_figure, daily_balances

DAYS = [dt.date(2026, 10, d) for d in (1, 2, 3, 4)]


def test_daily_balances_walk_back_from_todays_balance():
    amounts = [(DAYS[1], D("100.00")), (DAYS[1], D("-20.00")), (DAYS[3], D("-30.50"))]
    series = daily_balances(end_balance=D("49.50"), amounts=amounts, days=DAYS)
    assert series == [
        (DAYS[0], D("0.00")),
        (DAYS[1], D("80.00")),
        (DAYS[2], D("80.00")),
        (DAYS[3], D("49.50")),
    ]
    figure = balance_figure(series, "USD")
    assert figure["data"][0]["x"][0] == "2026-10-01" and figure["data"][0]["y"][-1] == 49.5
