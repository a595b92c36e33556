"""The configuration file's `wallets` section (provisioning/config_wallets.py): apply, export,
round trip (importing twice changes nothing) and field-named errors."""

from decimal import Decimal as D

import pytest

from chargeback.audit.models import AuditEvent
from chargeback.provisioning.config import (
    ConfigError,
    apply_config,
    dump_config,
    export_config,
    parse_config,
    plan_config,
)
from chargeback.tenancy.scoping import within
from chargeback.wallets.models import LedgerEntry, Wallet

FILE = """
units:
  - {code: SUP, name: Support, parent: null, owner: ana@example.com, billing_mode: chargeback}
wallets:
  - {unit: SUP, kind: team, monthly_funding: "5000.00", hard_limit: true}
  - {unit: SUP, kind: experimental, monthly_funding: "250"}
  - {unit: null, kind: central, monthly_funding: "20000.00", hard_limit: false}
"""


def test_apply_export_and_import_twice_changes_nothing(org_a, admin):
    with within(org_a):
        plan = apply_config(org_a, parse_config(FILE), actor=admin.user)
        assert [str(c) for c in plan.changes if c.section == "wallets"] == [
            "wallets: create SUP (monthly_funding 5000.00, hard_limit true)",
            "wallets: create SUP:experimental (monthly_funding 250.00, hard_limit true)",
            "wallets: create central (monthly_funding 20000.00, hard_limit false)",
        ]
        central = Wallet.objects.get(kind="central")
        assert (central.monthly_funding, central.hard_limit, central.currency) == (
            D("20000.00"), False, "USD")  # fmt: skip
        assert not LedgerEntry.objects.exists()  # the file sets up; money moves by entries
        assert AuditEvent.objects.filter(action="wallet.opened").count() == 3
        assert apply_config(org_a, parse_config(FILE), actor=admin.user).changes == []
        exported = export_config(org_a)
        assert exported["wallets"] == [
            {"unit": None, "kind": "central", "monthly_funding": "20000.00", "hard_limit": False},
            {"unit": "SUP", "kind": "team", "monthly_funding": "5000.00", "hard_limit": True},
            {"unit": "SUP", "kind": "experimental", "monthly_funding": "250.00",
             "hard_limit": True},
        ]  # fmt: skip
        text = dump_config(exported)
        assert "  - {unit: SUP, kind: team, monthly_funding: '5000.00', hard_limit: true}" in text
        for fmt in ("yaml", "json"):
            again = plan_config(org_a, parse_config(dump_config(exported, fmt)))
            assert (again.errors, again.changes) == ([], [])
        changed = FILE.replace('"20000.00", hard_limit: false', '"15000.00", hard_limit: true')
        plan = apply_config(org_a, parse_config(changed), actor=admin.user)
        assert [str(c) for c in plan.changes if c.section == "wallets"] == [
            "wallets: update central: monthly_funding 20000.00 -> 15000.00, "
            "hard_limit false -> true"
        ]
        assert Wallet.objects.get(kind="central").hard_limit is True


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ('{unit: NOPE, kind: team}', 'wallets[0].unit: unknown code "NOPE"'),
        ('{unit: SUP, kind: gold}', 'wallets[0].kind: "gold" is not one of team, central, experimental'),
        ('{unit: SUP, kind: central}', "wallets[0].unit: a central wallet has unit: null"),
        ('{unit: null, kind: team}', "wallets[0].unit: a central wallet has unit: null"),
        ('{unit: SUP, monthly_funding: 50.5}', "wallets[0].monthly_funding: must be a decimal"),
        ('{unit: SUP, monthly_funding: "-5"}', "wallets[0].monthly_funding: must not be negative"),
        ('{unit: SUP, monthly_funding: "1.001"}', "wallets[0].monthly_funding: USD amounts have"),
        ('{unit: SUP, monthly_funding: "lots"}', 'wallets[0].monthly_funding: "lots" is not'),
        ('{unit: SUP, hard_limit: maybe}', "wallets[0].hard_limit: must be true or false"),
        ('{unit: SUP, colour: red}', "wallets[0].colour: unknown key"),
        ("just text", "wallets[0]: must be a mapping"),
    ],
)  # fmt: skip
def test_bad_entries_name_the_entry_and_field_and_change_nothing(org_a, admin, entry, error):
    text = FILE.split("wallets:")[0] + f"wallets:\n  - {entry}\n"
    with within(org_a):
        with pytest.raises(ConfigError) as exc:
            apply_config(org_a, parse_config(text), actor=admin.user)
        assert any(e.startswith(error) for e in exc.value.errors), exc.value.errors
        assert not Wallet.objects.exists()


def test_a_wallet_given_twice_is_an_error(org_a, admin):
    text = FILE + "  - {unit: SUP, kind: team}\n"
    with within(org_a), pytest.raises(ConfigError) as exc:
        apply_config(org_a, parse_config(text), actor=admin.user)
    assert exc.value.errors == ["wallets[3]: a second team wallet for SUP"]
