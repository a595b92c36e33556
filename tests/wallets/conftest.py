import pytest
from django_scopes import scopes_disabled

from chargeback.units.models import BusinessUnit
from chargeback.wallets.accounts import open_wallet
from chargeback.wallets.models import WalletKind
from tests import factories as f


@pytest.fixture
def sup(org_a):
    with scopes_disabled():
        return f.BusinessUnitFactory(organization=org_a, code="SUP", name="Support")


@pytest.fixture
def team(org_a, sup):
    with scopes_disabled():
        return open_wallet(organization=org_a, unit=sup, kind=WalletKind.TEAM, actor="test")


@pytest.fixture
def central(org_a):
    with scopes_disabled():
        return open_wallet(
            organization=org_a, unit=None, kind=WalletKind.CENTRAL, hard_limit=False, actor="test"
        )


@pytest.fixture
def research(org_a):
    with scopes_disabled():
        unit = f.BusinessUnitFactory(organization=org_a, code="RES", name="Research")
        return open_wallet(organization=org_a, unit=unit, kind=WalletKind.TEAM, actor="test")


@pytest.fixture
def foreign(org_b):
    with scopes_disabled():
        unit = BusinessUnit.objects.get(code="BSECRET")
        return open_wallet(organization=org_b, unit=unit, kind=WalletKind.TEAM, actor="test")
