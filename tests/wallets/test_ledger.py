"""The ledger's verbs (wallets/ledger.py): entries, audit events, idempotency, bad input."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from chargeback.audit.models import AuditEvent
from chargeback.tenancy.scoping import within
from chargeback.wallets.accounts import open_wallet
from chargeback.wallets.ledger import post_entry, transfer
from chargeback.wallets.models import AppendOnly, LedgerEntry, Wallet, WalletKind

D = Decimal


def sums(wallet):
    agg = LedgerEntry.objects.filter(wallet=wallet).aggregate(a=Sum("amount"), p=Sum("pending"))
    return agg["a"] or D(0), agg["p"] or D(0)


def fund(wallet, amount, **kw):
    return post_entry(wallet=wallet, type="funding", amount=amount, reason="test", actor="t", **kw)


def test_funding_posts_an_entry_and_an_audit_event(org_a, team):
    with within(org_a):
        entry = fund(team, "100.00", key="k1")
        assert entry.amount == D("100.00")
        assert Wallet.objects.get(pk=team.pk).balance == D("100.00") == sums(team)[0]
        assert (
            AuditEvent.objects.filter(action="wallet.funding", object_id=str(entry.pk)).count() == 1
        )


def test_the_same_key_posts_once_and_a_reused_key_is_refused(org_a, team, research):
    with within(org_a):
        first = fund(team, "100.00", key="k1")
        assert fund(team, "100.00", key="k1").pk == first.pk
        assert LedgerEntry.objects.filter(wallet=team).count() == 1
        with pytest.raises(ValidationError) as exc:
            fund(team, "5.00", key="k1")
        assert "key" in exc.value.message_dict
        with pytest.raises(ValidationError):
            fund(research, "100.00", key="k1")


@pytest.mark.parametrize(
    ("amount", "field"),
    [("0", "amount"), ("-5", "amount"), ("1.005", "amount"), ("abc", "amount"), ("NaN", "amount")],
)
def test_funding_refuses_bad_amounts_naming_the_field(org_a, team, amount, field):
    with within(org_a):
        with pytest.raises(ValidationError) as exc:
            fund(team, amount)
        assert field in exc.value.message_dict
        assert not LedgerEntry.objects.filter(wallet=team).exists()


def test_a_float_is_refused(org_a, team):
    with within(org_a), pytest.raises(ValidationError, match="float"):
        fund(team, 1.5)


def test_a_reason_is_required(org_a, team):
    with within(org_a), pytest.raises(ValidationError) as exc:
        post_entry(wallet=team, type="funding", amount="1", reason="  ", actor="t")
    assert "reason" in exc.value.message_dict


def test_an_adjustment_may_not_overdraw_a_hard_wallet_but_may_a_soft_one(org_a, team, central):
    with within(org_a):
        fund(team, "10.00")
        with pytest.raises(ValidationError) as exc:
            post_entry(wallet=team, type="adjustment", amount="-10.01", reason="x", actor="t")
        assert "amount" in exc.value.message_dict
        post_entry(wallet=central, type="adjustment", amount="-10.01", reason="x", actor="t")
        assert Wallet.objects.get(pk=central.pk).balance == D("-10.01")


def test_other_types_cannot_be_posted_directly(org_a, team):
    with within(org_a), pytest.raises(ValidationError) as exc:
        post_entry(wallet=team, type="chargeback", amount="1", reason="x", actor="t")
    assert "type" in exc.value.message_dict


def test_a_transfer_is_two_balanced_linked_entries(org_a, team, central):
    with within(org_a):
        fund(central, "500.00")
        out, into = transfer(source=central, target=team, amount="120.50", reason="Q4", actor="t")
        assert (out.amount, into.amount) == (D("-120.50"), D("120.50"))
        assert out.transfer == into.transfer is not None
        assert Wallet.objects.get(pk=team.pk).balance == D("120.50")
        assert Wallet.objects.get(pk=central.pk).balance == D("379.50")
        assert AuditEvent.objects.filter(action="wallet.transfer").count() == 1
        again = transfer(source=central, target=team, amount="1", reason="x", actor="t", key="t1")
        assert (
            transfer(source=central, target=team, amount="1", reason="x", actor="t", key="t1")[0].pk
            == again[0].pk
        )
        assert LedgerEntry.objects.filter(type="transfer").count() == 4


def _refused(field, **kwargs):
    before = LedgerEntry.objects.count()
    with pytest.raises(ValidationError) as exc:
        transfer(actor="t", **{"reason": "r", "amount": "1.00", **kwargs})
    assert field in exc.value.message_dict, exc.value.message_dict
    assert LedgerEntry.objects.count() == before


def test_bad_transfers_name_the_field_and_write_nothing(org_a, org_b, team, central, foreign):
    with within(org_a):
        fund(central, "100.00")
        fund(team, "5.00")
        _refused("amount", source=central, target=team, amount="0")
        _refused("amount", source=central, target=team, amount="-1")
        _refused("target", source=central, target=central)
        _refused("target", source=central, target=foreign)
        _refused("reason", source=central, target=team, reason="")
        _refused("amount", source=team, target=central, amount="5.01")  # hard wallet
        foreign.currency = "USD"  # even when the currency matches, another org is refused
        _refused("target", source=central, target=foreign)


def test_a_transfer_across_currencies_is_refused(org_a, team, central):
    with within(org_a):
        fund(central, "100.00")
        team.currency = "EUR"
        _refused("target", source=central, target=team)


def test_an_archived_units_wallet_is_read_only(org_a, team, sup):
    with within(org_a):
        fund(team, "10.00")
        sup.archived = True
        sup.save(update_fields=["archived"])
        with pytest.raises(ValidationError, match="archived"):
            fund(team, "10.00")
        assert Wallet.objects.get(pk=team.pk).balance == D("10.00")


def test_entries_are_append_only(org_a, team):
    with within(org_a):
        entry = fund(team, "10.00")
        entry.reason = "edited"
        with pytest.raises(AppendOnly):
            entry.save()
        with pytest.raises(AppendOnly):
            entry.delete()


def test_one_wallet_per_kind_and_unit(org_a, team, sup, central):
    with within(org_a):
        with pytest.raises(ValidationError):
            open_wallet(organization=org_a, unit=sup, kind=WalletKind.TEAM, actor="t")
        with pytest.raises(ValidationError):
            open_wallet(organization=org_a, unit=None, kind=WalletKind.CENTRAL, actor="t")
        with pytest.raises(ValidationError):
            open_wallet(organization=org_a, unit=sup, kind=WalletKind.CENTRAL, actor="t")
        experimental = open_wallet(
            organization=org_a, unit=sup, kind=WalletKind.EXPERIMENTAL, actor="t"
        )
        assert experimental.name == "SUP:experimental" and experimental.currency == "USD"
