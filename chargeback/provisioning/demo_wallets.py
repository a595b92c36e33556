"""The demo's wallets: the central pool and a few chargeback teams' wallets, with monthly
funding posted for the current month (as beat would)."""

from __future__ import annotations

from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit
from chargeback.wallets.accounts import open_wallet
from chargeback.wallets.funding import fund_month

# unit code (None: the central pool), kind, monthly funding, hard limit
WALLETS = [
    (None, "central", "20000.00", False),
    ("SUP-T1", "team", "5000.00", True),
    ("SUP-AUTO", "team", "3000.00", True),
    ("SALES-EMEA", "team", "2500.00", True),
    ("LEGAL", "team", "800.00", True),
    ("AGENTS", "experimental", "500.00", True),
]


def seed_wallets(org: Organization, *, actor: str) -> None:
    """Open the demo wallets and fund this month. Call inside the organisation's scope."""
    for code, kind, monthly, hard in WALLETS:
        unit = BusinessUnit.objects.get(organization=org, code=code) if code else None
        wallet = open_wallet(organization=org, unit=unit, kind=kind, actor=actor,
                             hard_limit=hard, monthly_funding=monthly)  # fmt: skip
        fund_month(wallet=wallet, actor=actor)
