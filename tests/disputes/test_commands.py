"""`disputes` and `finalize_statements` as a user runs them: the lines DESIGN 6.3 promises and
one-line errors for bad input."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled

from chargeback.billing.close import draft_statements, issue_statements
from chargeback.disputes.models import Dispute
from chargeback.tenancy.scoping import within
from chargeback.units.models import BusinessUnit
from tests.disputes.conftest import OCT


@pytest.fixture
def issued(worked):
    """As tests/disputes/conftest.py's, but issued today: the commands act on today's date."""
    with scopes_disabled():
        BusinessUnit.objects.filter(organization=worked, code__in=["SUP", "SALES"]).update(
            billing_mode="chargeback"
        )
    with within(worked):
        draft_statements(worked, OCT)
        issue_statements(worked, OCT)
    return worked


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def test_open_review_ask_answer_resolve_and_list(issued, statements, people):
    number = statements["SUP"].number
    with within(issued):
        usage = statements["SUP"].lines.get(kind="usage").pk
    out = run(
        "disputes", "--org", "alpha", "open", "--statement", number, "--lines", str(usage),
        "--amount", "2.00", "--reason", "wrong_owner", "--by", "sup@alpha.example",
        "--text", "Sales' bot", "--request-ids", "req-1,req-2",
    )  # fmt: skip
    with within(issued):
        d = Dispute.objects.get()
    assert out == f"dispute {d.pk}: open, respond by {d.respond_by:%Y-%m-%d}"
    by = ("--by", "fin@alpha.example")
    assert run("disputes", "--org", "alpha", "review", str(d.pk), *by) == (
        f"dispute {d.pk}: under_review"
    )
    run("disputes", "--org", "alpha", "ask", str(d.pk), *by, "--text", "Which key?")
    run("disputes", "--org", "alpha", "answer", str(d.pk), "--by", "sup@alpha.example",
        "--text", "gk-sales")  # fmt: skip
    run("disputes", "--org", "alpha", "comment", str(d.pk), *by, "--text", "Checking")
    out = run(
        "disputes", "--org", "alpha", "resolve", str(d.pk), "--outcome", "accepted",
        "--to-unit", "SALES", *by, "--text", "It was Sales' bot",
    )  # fmt: skip
    assert out == f"dispute {d.pk}: accepted, credited 2.00, to SALES"
    listed = json.loads(run("disputes", "--org", "alpha", "list", "--format", "json"))
    assert listed == {
        "disputes": [
            {
                "id": d.pk, "statement": number, "unit": "SUP", "state": "accepted",
                "reason": "wrong_owner", "amount": "2.00", "opened_on": f"{d.opened_on:%Y-%m-%d}",
                "respond_by": f"{d.respond_by:%Y-%m-%d}", "outcome": "accepted",
                "credited": "2.00", "reassigned_to": "SALES",
            }
        ]
    }  # fmt: skip
    assert json.loads(
        run("disputes", "--org", "alpha", "list", "--period", "2026-09", "--format", "json")
    ) == {"disputes": []}
    table = run("disputes", "--org", "alpha", "list")
    assert table.splitlines()[0].split() == [
        "id", "statement", "unit", "state", "reason", "amount", "respond_by", "credited"
    ]  # fmt: skip
    assert table.endswith("1 dispute(s)")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["open", "--statement", "NOPE", "--amount", "1", "--reason", "other", "--by",
          "sup@alpha.example", "--text", "x"], 'statement: "NOPE" not found'),
        (["open", "--statement", "{SUP}", "--amount", "1", "--reason", "other", "--by",
          "who@else.example", "--text", "x"], 'by: "who@else.example" is not a member of alpha'),
        (["open", "--statement", "{SALES}", "--amount", "1", "--reason", "other", "--by",
          "sup@alpha.example", "--text", "x"], "not found"),
        (["open", "--statement", "{SUP}", "--lines", "a,b", "--amount", "1", "--reason",
          "other", "--by", "sup@alpha.example", "--text", "x"], 'lines: "a,b" is not a list'),
        (["resolve", "999999", "--outcome", "accepted", "--by", "fin@alpha.example",
          "--text", "x"], "dispute 999999 not found"),
        (["list", "--period", "2026-13"], 'period: "2026-13" is not a month'),
    ],
)  # fmt: skip
def test_bad_input_is_a_one_line_error(issued, statements, people, args, error):
    args = [a.format(**{k: s.number for k, s in statements.items()}) for a in args]
    with pytest.raises(CommandError, match=error):
        run("disputes", "--org", "alpha", *args)
