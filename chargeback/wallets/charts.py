"""The balance-over-time figure of a wallet page: a pure function from the daily series to a
Plotly figure (drawn by static/js/charts.js; floats only at this last step, through
`money.plot_number`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from chargeback.money import plot_number


def daily_balances(
    *, end_balance: Decimal, amounts: Iterable[tuple[dt.date, Decimal]], days: list[dt.date]
) -> list[tuple[dt.date, Decimal]]:
    """The balance at the end of each of `days`, from today's balance and the posted amounts
    (day, amount) of those days: walked back from the end."""
    per_day: dict[dt.date, Decimal] = {}
    for day, amount in amounts:
        per_day[day] = per_day.get(day, Decimal(0)) + amount
    out, balance = [], end_balance
    for day in reversed(days):
        out.append((day, balance))
        balance -= per_day.get(day, Decimal(0))
    return list(reversed(out))


def balance_figure(series: list[tuple[dt.date, Decimal]], currency: str) -> dict:
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Balance",
                "x": [d.isoformat() for d, _ in series],
                "y": [plot_number(b) for _, b in series],
                "hovertemplate": f"%{{x}}: %{{y:,.2f}} {currency}<extra></extra>",
            }
        ],
        "layout": {
            "height": 260,
            "margin": {"l": 60, "r": 20, "t": 10, "b": 40},
            "yaxis": {"title": {"text": currency}, "zeroline": True},
            "showlegend": False,
        },
    }
