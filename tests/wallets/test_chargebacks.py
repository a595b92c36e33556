"""A final chargeback statement posts a `chargeback` entry to its wallet, exactly once; with a
hybrid baseline the central pool pays up to it (the central statement) and the unit the overage."""

import datetime as dt
from decimal import Decimal

import pytest
from django_scopes import scopes_disabled

from chargeback.allocation.policy import parse_policy
from chargeback.billing.close import close_period, draft_statements, issue_statements
from chargeback.billing.finality import finalize_due
from chargeback.billing.models import Statement
from chargeback.billing.policy_versions import save_policy
from chargeback.tenancy.scoping import within
from chargeback.units.models import BusinessUnit
from chargeback.wallets.accounts import open_wallet
from chargeback.wallets.funding import post_statements
from chargeback.wallets.models import LedgerEntry, Wallet
from tests.billing.test_close import OCT, WORKED_POLICY, worked  # noqa: F401 (fixture)
from tests.usage.conftest import priced_org  # noqa: F401 (fixture)

D = Decimal


@pytest.fixture
def hybrid(worked):  # noqa: F811
    with scopes_disabled():
        BusinessUnit.objects.filter(code__in=["SUP", "SALES"]).update(billing_mode="chargeback")
        for code in ("SUP", "SALES", "AGENT"):
            unit = BusinessUnit.objects.get(organization=worked, code=code)
            open_wallet(organization=worked, unit=unit, kind="team", actor="t")
        open_wallet(organization=worked, unit=None, kind="central", hard_limit=False, actor="t")
    with within(worked):
        policy = {**WORKED_POLICY, "hybrid": {"central_baseline_per_unit": "10.00"}}
        save_policy(organization=worked, policy=parse_policy(policy), actor="t")
        draft_statements(worked, OCT)
        issue_statements(worked, OCT)
    return worked


def _charges(org):
    return {
        e.wallet.name: e.amount
        for e in LedgerEntry.objects.filter(organization=org, type="chargeback").select_related(
            "wallet__unit"
        )
    }


def test_closing_the_month_posts_each_chargeback_statement_once(hybrid):
    with within(hybrid):
        assert _charges(hybrid) == {}  # issued is not final
        billing = close_period(hybrid, OCT, override_reason="closed on the issue day")
        statements = {s.unit.code: s for s in Statement.objects.filter(period=billing)}
        sales, central = statements["SALES"], statements["CENTRAL"]
        # SALES: 20 + 20% markup + 15% fee = 27.00, of which the central pool pays the first 10.
        assert sales.total == D("17.00")
        charges = _charges(hybrid)
        assert charges["SALES"] == -sales.total
        assert charges["central"] == -central.total
        assert "SUP" not in charges  # 8.25, all within the baseline: nothing to charge
        assert "AGENT" not in charges  # showback: no money moves
        assert Wallet.objects.get(unit__code="SALES").balance == D("-17.00")
        # Exactly once, however often it is posted again.
        post_statements(organization=hybrid, statement_ids=[s.pk for s in statements.values()])
        assert _charges(hybrid) == charges
        assert LedgerEntry.objects.filter(type="chargeback").count() == 2


def test_finalizing_after_the_window_posts_the_chargebacks_too(hybrid):
    """Statements also become final when their dispute window passes (finalize_statements and
    its beat task): the same entries are posted, once."""
    with within(hybrid):
        issued = Statement.objects.filter(organization=hybrid, status="issued")
        after_window = max(s.dispute_deadline for s in issued) + dt.timedelta(days=1)
        finalized = finalize_due(hybrid, today=after_window)
        assert finalized and all(s.status == "final" for s in finalized)
        sales = Statement.objects.get(organization=hybrid, unit__code="SALES")
        assert _charges(hybrid)["SALES"] == -sales.total
        assert finalize_due(hybrid, today=after_window) == []  # nothing twice
        assert LedgerEntry.objects.filter(type="chargeback").count() == 2


def test_a_key_held_by_an_entry_of_another_kind_is_an_error_not_a_replay(hybrid):
    """A funding entry posted (before the form refused it) under the key a statement's
    chargeback will use: posting the chargeback names the key rather than answering with the
    funding entry, so the bill is not silently skipped."""
    from django.core.exceptions import ValidationError  # noqa: PLC0415 (this test only)

    from chargeback.wallets.ledger import post_chargeback, post_entry  # noqa: PLC0415

    with within(hybrid):
        sales = Statement.objects.get(organization=hybrid, unit__code="SALES")
        wallet = Wallet.objects.get(unit__code="SALES")
        key = f"chargeback:{sales.pk}:team"
        post_entry(wallet=wallet, type="funding", amount="5.00", reason="t", actor="t", key=key)
        with pytest.raises(ValidationError) as refused:
            post_chargeback(wallet=wallet, statement=sales, amount=D("17.00"), actor="t")
        assert key in refused.value.message_dict["key"][0]
        assert LedgerEntry.objects.filter(type="chargeback").count() == 0
        sup = Statement.objects.get(organization=hybrid, unit__code="SUP")
        sup_wallet = Wallet.objects.get(unit__code="SUP")
        first = post_chargeback(wallet=sup_wallet, statement=sup, amount=D("1.00"), actor="t")
        again = post_chargeback(wallet=sup_wallet, statement=sup, amount=D("1.00"), actor="t")
        assert again.pk == first.pk  # its own key again: the first entry
