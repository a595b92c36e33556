"""The wallet pages' run-out day comes from the per-unit-day rollup (DailyUnitUsage), not the
daily rows, and is exactly the one the daily rows give."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from chargeback.calendar import Period
from chargeback.wallets.ledger import post_entry
from chargeback.wallets.models import Wallet
from chargeback.wallets.runout import wallet_run_out
from tests.budgets.conftest import NOW, TODAY, cost_per_day, spread_usage


def test_wallet_pages_read_unit_days_and_run_out_on_the_daily_rows_day(
    client_for, finance, org_a, team, research, time_machine
):
    time_machine.move_to(NOW, tick=False)
    units = [team.unit, research.unit]
    spread_usage(org_a, units, dt.date(2026, 8, 25), dt.date(2026, 10, 25), seed=3)
    with scopes_disabled():
        post_entry(wallet=team, type="funding", amount="400.00", reason="month", actor="t")
        post_entry(wallet=research, type="funding", amount="90.00", reason="month", actor="t")
    client = client_for(finance)
    with CaptureQueriesContext(connection) as run:
        listed = client.get("/o/alpha/wallets/")
        detail = client.get(f"/o/alpha/wallets/{team.pk}/")
    assert listed.status_code == detail.status_code == 200
    assert not [q for q in run.captured_queries if "usage_dailyusage" in q["sql"]]
    expected = {}
    with scopes_disabled():
        for wallet in Wallet.objects.filter(pk__in=[team.pk, research.pk]):
            daily = {d: v for d, v in cost_per_day(org_a, {wallet.unit_id}).items() if d <= TODAY}
            expected[wallet.pk] = wallet_run_out(
                daily, available=wallet.available, today=TODAY, period=Period.of(TODAY)
            )
    assert {pk: listed.context["run_out"][pk] for pk in expected} == expected
    assert detail.context["run_out"] == expected[team.pk]
    assert expected[research.pk] is not None  # the smaller wallet runs out this month
