"""The true-up: the unexplained variance on the month's drafts as true_up lines by share of
usage spend, summing exactly to it; never after issue."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import strategies as st

from chargeback.billing.close import draft_statements, issue_statements
from chargeback.billing.models import StatementLine
from chargeback.calendar import Period
from chargeback.reconciliation.trueup import true_up_shares
from chargeback.tenancy.scoping import within
from tests.reconciliation.conftest import INVOICE

D = Decimal
OCT = Period.parse("2026-10")


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_shares_follow_spend():
    assert true_up_shares(D("1.00"), {"A": D("3"), "B": D("1"), "C": D("0")}, "USD") == {
        "A": D("0.75"), "B": D("0.25"),
    }  # fmt: skip


@given(
    st.decimals(min_value=-10000, max_value=10000, places=2),
    st.dictionaries(st.sampled_from("ABCDEF"), st.decimals(min_value=0, max_value=10**6,
                                                             places=4), min_size=1),
)  # fmt: skip
def test_shares_sum_exactly(amount, spend):
    shares = true_up_shares(amount, spend, "USD")
    assert sum(shares.values(), D(0)) == (amount if any(v > 0 for v in spend.values()) else 0)


def test_the_true_up_lands_on_the_drafts_and_is_refused_after_issue(metered, tmp_path):
    path = tmp_path / "inv.csv"
    path.write_text(INVOICE + "internal,flat,other,0,1.38,USD\n")  # $1.38 nobody explains
    run("import_invoice", "--org", metered.slug, "--period", "2026-10", str(path))
    with pytest.raises(CommandError, match="^reason: a true-up needs a written reason$"):
        run("reconcile", "--org", metered.slug, "--period", "2026-10", "--true-up")
    out = run("reconcile", "--org", metered.slug, "--period", "2026-10", "--true-up",
              "--reason", "provider rounding we cannot trace")  # fmt: skip
    assert out.strip() == "true-up 2026-10: 1.38 USD by share of spend"
    with within(metered):
        draft_statements(metered, OCT)
        lines = dict(
            StatementLine.objects.filter(kind="true_up").values_list(
                "statement__unit__code", "amount"
            )
        )
        # spend: SUP 3.90, SALES 3.00 (2.00 + the failed 1.00)
        assert lines == {"SUP": D("0.78"), "SALES": D("0.60")}
        assert sum(lines.values()) == D("1.38")
        issue_statements(metered, OCT)
    rec = json.loads(run("reconcile", "--org", metered.slug, "--period", "2026-10",
                         "--format", "json"))  # fmt: skip
    assert rec["allocated"] == rec["metered"] == "6.90"  # the issued statements' usage cost
    with pytest.raises(CommandError, match="statements are issued already"):
        run("reconcile", "--org", metered.slug, "--period", "2026-10", "--true-up",
            "--reason", "again")  # fmt: skip
