"""Monthly funding by beat (once per wallet and month, in the organisation's timezone) and the
chargeback entries of final statements."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django_scopes import scopes_disabled

from chargeback.tenancy.scoping import within
from chargeback.wallets.accounts import update_wallet
from chargeback.wallets.models import LedgerEntry, Wallet
from chargeback.wallets.tasks import funding_sweep
from tests import factories as f

D = Decimal
UTC = dt.UTC


@pytest.fixture
def utc_org(db):
    with scopes_disabled():
        return f.OrganizationFactory(slug="utc-org", timezone="UTC")


def _monthly(org, code, amount):
    from chargeback.wallets.accounts import open_wallet  # noqa: PLC0415

    with scopes_disabled():
        unit = f.BusinessUnitFactory(organization=org, code=code)
        wallet = open_wallet(organization=org, unit=unit, kind="team", actor="t")
        return update_wallet(wallet=wallet, actor="t", hard_limit=True, monthly_funding=amount)


def _funding(wallet):
    with within(wallet.organization):
        return list(
            LedgerEntry.objects.filter(wallet=wallet, type="funding")
            .order_by("pk")
            .values_list("reason", flat=True)
        )


def test_monthly_funding_follows_the_organisations_month_end(org_a, utc_org):
    berlin = _monthly(org_a, "SUP", "5000.00")  # org_a is in Europe/Berlin
    london = _monthly(utc_org, "OPS", "100.00")
    with time_machine.travel(dt.datetime(2026, 10, 31, 22, 30, tzinfo=UTC), tick=False):
        funding_sweep.delay().get()
        funding_sweep.delay().get()  # twice: posts once
    assert _funding(berlin) == ["Monthly funding 2026-10"]
    assert _funding(london) == ["Monthly funding 2026-10"]
    # 23:30 UTC on 31 October is 00:30 on 1 November in Berlin: Berlin's November starts.
    with time_machine.travel(dt.datetime(2026, 10, 31, 23, 30, tzinfo=UTC), tick=False):
        assert funding_sweep.delay().get() == [berlin.pk]
        assert funding_sweep.delay().get() == []
    assert _funding(berlin) == ["Monthly funding 2026-10", "Monthly funding 2026-11"]
    assert _funding(london) == ["Monthly funding 2026-10"]
    with time_machine.travel(dt.datetime(2026, 11, 1, 0, 0, 1, tzinfo=UTC), tick=False):
        funding_sweep.delay().get()
        funding_sweep.delay().get()
    assert _funding(london) == ["Monthly funding 2026-10", "Monthly funding 2026-11"]
    with within(org_a):
        assert Wallet.objects.get(pk=berlin.pk).balance == D("10000.00")


def test_a_wallet_without_monthly_funding_gets_none(org_a, team):
    funding_sweep.delay().get()
    assert _funding(team) == []
