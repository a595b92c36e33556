"""The dispute page tells both sides what the outcome did to the money: the credit note, the
lines carried onto a later statement, and for an unknown owner the absorb policy and the
enforcement item. The team lead of the disputed unit reads it too."""

from __future__ import annotations

from django.urls import reverse
from django_scopes import scopes_disabled

from chargeback.billing.close import draft_statements
from chargeback.billing.models import Statement
from chargeback.calendar import Period
from chargeback.disputes import operations as ops
from chargeback.tenancy.scoping import within
from tests.disputes.conftest import ISSUED_ON
from tests.usage.conftest import event, ingest

NOV = Period.parse("2026-11")


def _page(client, membership, dispute) -> str:
    client.force_login(membership.user)
    url = reverse("disputes:dispute-detail", kwargs={"org_slug": "alpha", "dispute_id": dispute.pk})
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _statement_url(statement_id: int) -> str:
    return reverse(
        "billing:statement-detail", kwargs={"org_slug": "alpha", "statement_id": statement_id}
    )


def test_the_team_lead_sees_the_credit_note(client, issued, statements, people):
    sup = statements["SUP"]
    with within(issued):
        d = ops.open_dispute(membership=people["sup_lead"], statement=sup, amount="2.00",
                             reason="duplicate", description="twice", today=ISSUED_ON)  # fmt: skip
        before = _page(client, people["sup_lead"], d)
        ops.resolve(membership=people["finance"], dispute=d, outcome="accepted", text="yes",
                    today=ISSUED_ON)  # fmt: skip
    assert "What the outcome does to the money" not in before
    page = _page(client, people["sup_lead"], d)
    assert "What the outcome does to the money" in page
    assert f"Credit note <code>{sup.number}-CN1</code>: $2.00" in page
    assert f'href="{_statement_url(sup.pk)}"' in page
    assert "absorb policy" not in page


def test_a_final_statement_is_credited_on_the_next_one(client, issued, statements, people):
    sup = statements["SUP"]
    with within(issued):
        d = ops.open_dispute(membership=people["sup_lead"], statement=sup, amount="2.00",
                             reason="pricing", description="old price", today=ISSUED_ON)  # fmt: skip
    with scopes_disabled():  # closed early with an override: the statement is final already
        Statement.objects.filter(pk=sup.pk).update(status="final")
    with within(issued):
        ops.resolve(membership=people["finance"], dispute=d, outcome="accepted", text="yes",
                    today=ISSUED_ON)  # fmt: skip
    page = _page(client, people["sup_lead"], d)
    assert "Credit note" not in page
    assert "$2.00 is carried on the next statement that is drafted" in page
    with within(issued):
        draft_statements(issued, NOV)
        nov = Statement.objects.get(period__month=NOV.first, unit__code="SUP")
    page = _page(client, people["sup_lead"], d)
    assert "Credit line of -$2.00 on SUP's November 2026 statement (draft)" in page
    assert f"Credit for 2026-10: dispute {d.pk} on {sup.number}" in page
    assert _statement_url(nov.pk) not in page  # a draft: the team lead cannot open it yet
    assert _statement_url(nov.pk) in _page(client, people["finance"], d)


def test_an_absorbed_unknown_owner_shows_policy_and_enforcement(client, issued, statements, people):
    ingest(issued, [event("bot-1", occurred_at="2026-10-07T09:00:00Z", provider="internal",
                          model="flat", input_tokens=1000, output_tokens=0,
                          tags={"team": "SUP"}, gateway_key_id="key-bot-7")])  # fmt: skip
    with scopes_disabled():
        issued.dispute_absorb_policy = "IT absorbs it once; the key is then blocked"
        issued.save(update_fields=["dispute_absorb_policy"])
    with within(issued):
        d = ops.open_dispute(membership=people["sup_lead"], statement=statements["SUP"],
                             amount="4.00", reason="wrong_owner", description="a bot",
                             request_ids=["bot-1"], today=ISSUED_ON)  # fmt: skip
        ops.resolve(membership=people["finance"], dispute=d, outcome="accepted", text="no owner",
                    today=ISSUED_ON)  # fmt: skip
        draft_statements(issued, NOV)
        central = Statement.objects.get(period__month=NOV.first, unit__code="CENTRAL")
    enforcement = reverse("disputes:enforcement-list", kwargs={"org_slug": "alpha"})
    page = _page(client, people["sup_lead"], d)
    assert "under the absorb policy: <q>IT absorbs it once; the key is then blocked</q>" in page
    assert "Listed for enforcement: gateway key key-bot-7" in page
    assert "Adjustment line of $4.00 on CENTRAL" in page
    assert _statement_url(central.pk) not in page and enforcement not in page
    page = _page(client, people["finance"], d)
    assert _statement_url(central.pk) in page and enforcement in page
