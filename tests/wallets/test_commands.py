"""The wallet commands of DESIGN.md 6.3: wallets, wallet_post, wallet_transfer."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from chargeback.tenancy.scoping import within
from chargeback.wallets.models import LedgerEntry


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_post_opens_the_wallet_on_first_funding_and_a_key_posts_once(org_a, sup):
    args = ["wallet_post", "--org", "alpha", "--wallet", "SUP", "--type", "funding",
            "--amount", "5000.00", "--reason", "October", "--key", "oct"]  # fmt: skip
    last = run(*args).strip().splitlines()[-1]
    assert last.startswith("entry ") and last.endswith(": SUP balance=5000.00")
    assert run(*args).strip().splitlines()[-1] == last
    with within(org_a):
        assert LedgerEntry.objects.count() == 1
    run("wallet_post", "--org", "alpha", "--wallet", "central", "--type", "funding",
        "--amount", "100", "--reason", "pool")  # fmt: skip
    run("wallet_post", "--org", "alpha", "--wallet", "SUP", "--kind", "experimental",
        "--type", "top_up", "--amount", "25", "--reason", "trials")  # fmt: skip
    doc = json.loads(run("wallets", "--org", "alpha", "--format", "json"))
    assert doc["organization"] == "alpha" and doc["currency"] == "USD"
    assert doc["wallets"] == [
        {"unit": "central", "kind": "central", "balance": "100.00", "reserved": "0.00",
         "available": "100.00", "hard_limit": True},
        {"unit": "SUP", "kind": "team", "balance": "5000.00", "reserved": "0.00",
         "available": "5000.00", "hard_limit": True},
        {"unit": "SUP", "kind": "experimental", "balance": "25.00", "reserved": "0.00",
         "available": "25.00", "hard_limit": True},
    ]  # fmt: skip
    table = run("wallets", "--org", "alpha")
    assert "SUP" in table and "$5,000.00" in table


def test_transfer_moves_money_and_prints_both_balances(org_a, sup):
    run("wallet_post", "--org", "alpha", "--wallet", "central", "--type", "funding",
        "--amount", "100", "--reason", "pool")  # fmt: skip
    run("wallet_post", "--org", "alpha", "--wallet", "SUP", "--type", "funding",
        "--amount", "1", "--reason", "open")  # fmt: skip
    out = run("wallet_transfer", "--org", "alpha", "--from", "central", "--to", "SUP",
              "--amount", "40", "--reason", "Q4 top-up", "--key", "t1")  # fmt: skip
    assert out.strip().endswith("central balance=60.00, SUP balance=41.00")
    run("wallet_transfer", "--org", "alpha", "--from", "central", "--to", "SUP",
        "--amount", "40", "--reason", "Q4 top-up", "--key", "t1")  # fmt: skip
    doc = json.loads(run("wallets", "--org", "alpha", "--format", "json"))
    assert [w["balance"] for w in doc["wallets"]] == ["60.00", "41.00"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "central", "--to", "SUP", "--amount", "0"], "amount: must be more than zero"),
        (["--from", "central", "--to", "SUP", "--amount", "-3"], "amount: must be more than zero"),
        (["--from", "central", "--to", "central", "--amount", "1"], "target: is the source"),
        (["--from", "SUP", "--to", "central", "--amount", "2"], "amount: SUP has 1.00 available"),
        (["--from", "NOPE", "--to", "central", "--amount", "1"], 'from: unknown unit "NOPE"'),
        (["--from", "central", "--to", "BSECRET", "--amount", "1"], 'to: unknown unit "BSECRET"'),
        (["--from", "central", "--to", "SUP", "--to-kind", "experimental", "--amount", "1"],
         'to: "SUP" has no experimental wallet'),
        (["--from", "central", "--to", "SUP", "--amount", "1.001"],
         "amount: USD amounts have at most 2 decimal places"),
    ],
)  # fmt: skip
def test_bad_transfers_are_one_line_errors_naming_the_field(org_a, org_b, sup, args, message):
    run("wallet_post", "--org", "alpha", "--wallet", "central", "--type", "funding",
        "--amount", "100", "--reason", "pool")  # fmt: skip
    run("wallet_post", "--org", "alpha", "--wallet", "SUP", "--type", "funding",
        "--amount", "1", "--reason", "open")  # fmt: skip
    with pytest.raises(CommandError) as exc:
        run("wallet_transfer", "--org", "alpha", *args, "--reason", "r")
    assert str(exc.value).startswith(message), str(exc.value)
    with within(org_a):
        assert LedgerEntry.objects.count() == 2


def test_an_adjustment_needs_an_existing_wallet(org_a, sup):
    with pytest.raises(CommandError, match="wallet: has no wallet yet"):
        run("wallet_post", "--org", "alpha", "--wallet", "SUP", "--type", "adjustment",
            "--amount", "5", "--reason", "r")  # fmt: skip
