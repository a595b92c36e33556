"""On PostgreSQL, several workers checking the same budgets at the same moment fire each alert
exactly once: the unique constraint decides, not a read-then-write."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from chargeback.budgets.checks import check_budgets
from chargeback.budgets.models import Alert, AlertRead
from chargeback.tenancy.scoping import within
from tests.budgets.conftest import TODAY, daily_spend, make_budget

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
WORKERS = 8


def test_parallel_checks_fire_each_alert_once(org_a, unit_tree, finance):
    import datetime as dt

    daily_spend(org_a, unit_tree["de"], dt.date(2026, 9, 1), TODAY, "100")
    make_budget(org_a, unit_tree["sales"], amount="2500")  # 50%, 80% and the forecast
    make_budget(org_a, unit_tree["eu"], amount="1000")  # 50%, 80%, 100%
    barrier = threading.Barrier(WORKERS)
    fired: list[list[tuple[str, str, int]]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with within(org_a):
                barrier.wait()
                alerts = check_budgets(organization=org_a, today=TODAY)
                fired.append([(a.unit.code, a.kind, a.threshold) for a in alerts])
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    together = sorted(a for alerts in fired for a in alerts)
    assert together == [
        ("SALES", "forecast", 100), ("SALES", "threshold", 50), ("SALES", "threshold", 80),
        ("SALES-EU", "threshold", 50), ("SALES-EU", "threshold", 80),
        ("SALES-EU", "threshold", 100),
    ]  # fmt: skip
    with within(org_a):
        assert Alert.objects.count() == 6
        assert AlertRead.objects.filter(user=finance.user, read_at__isnull=True).count() == 6
