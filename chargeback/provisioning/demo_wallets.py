"""The demo's wallets: the central pool and a few chargeback teams' wallets, with monthly
funding posted for the current month (as beat would) and one top-up from the central pool."""

from __future__ import annotations

from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit
from chargeback.wallets.accounts import open_wallet
from chargeback.wallets.funding import fund_month
from chargeback.wallets.ledger import transfer

# unit code (None: the central pool), kind, monthly funding, hard limit: each team's month
# with some headroom (the demo's months cost Support Automation about $14k, Support Tier 1
# $1.5k, Legal $0.9k, Sales EMEA $0.6k), the agents lab's experiments on a tight allowance
WALLETS = [
    (None, "central", "10000.00", False),
    ("SUP-T1", "team", "2000.00", True),
    ("SUP-AUTO", "team", "16000.00", True),
    ("SALES-EMEA", "team", "800.00", True),
    ("LEGAL", "team", "1200.00", True),
    ("AGENTS", "experimental", "1500.00", True),
]
# The central pool tops up the agents lab for an evaluation sprint.
TOP_UP = ("AGENTS", "1000.00", "Evaluation sprint for the research agent")


def seed_wallets(org: Organization, *, actor: str) -> None:
    """Open the demo wallets, fund this month and top up the agents lab from the central pool.
    Call inside the organisation's scope."""
    wallets = {}
    for code, kind, monthly, hard in WALLETS:
        unit = BusinessUnit.objects.get(organization=org, code=code) if code else None
        wallets[code] = open_wallet(organization=org, unit=unit, kind=kind, actor=actor,
                                    hard_limit=hard, monthly_funding=monthly)  # fmt: skip
        fund_month(wallet=wallets[code], actor=actor)
    code, amount, reason = TOP_UP
    transfer(source=wallets[None], target=wallets[code], amount=amount, reason=reason,
             actor=actor, key="demo:top-up")  # fmt: skip
