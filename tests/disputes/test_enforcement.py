"""A wrong-owner dispute accepted with no right unit: the central bucket absorbs the amount under
the organisation's absorb policy, and the key or tag behind it is on the enforcement list."""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse
from django_scopes import scopes_disabled

from chargeback.audit.models import AuditEvent
from chargeback.billing.close import draft_statements
from chargeback.billing.models import CreditNote, Statement, StatementLine
from chargeback.calendar import Period
from chargeback.disputes import operations as ops
from chargeback.disputes.models import EnforcementItem
from chargeback.tenancy.scoping import within
from tests.disputes.conftest import ISSUED_ON, OCT
from tests.usage.conftest import event, ingest

NOV = Period.parse("2026-11")


def test_an_unknown_owner_is_absorbed_and_its_key_listed(issued, statements, people, client):
    ingest(issued, [event("bot-1", occurred_at="2026-10-07T09:00:00Z", provider="internal",
                          model="flat", input_tokens=1000, output_tokens=0,
                          tags={"team": "SUP"}, gateway_key_id="key-bot-7")])  # fmt: skip
    with scopes_disabled():
        issued.dispute_absorb_policy = "IT absorbs it once; the key is then blocked"
        issued.save(update_fields=["dispute_absorb_policy"])
    with within(issued):
        sup = statements["SUP"]
        octo = Statement.objects.filter(period__month=OCT.first)
        before = sum(s.total for s in octo)
        d = ops.open_dispute(membership=people["sup_lead"], statement=sup, amount="4.00",
                             reason="wrong_owner", description="not ours: a bot",
                             request_ids=["bot-1"], today=ISSUED_ON)  # fmt: skip
        tag = ops.open_dispute(membership=people["sup_lead"], statement=sup, amount="1.00",
                               reason="wrong_owner", description="no idea whose",
                               today=ISSUED_ON)  # fmt: skip
        keyless = ops.open_dispute(membership=people["sup_lead"], statement=sup, amount="0.50",
                                   reason="wrong_owner", description="this request",
                                   request_ids=["sup-0"], today=ISSUED_ON)  # fmt: skip
        ops.resolve(membership=people["finance"], dispute=d, outcome="accepted", text="no owner",
                    today=ISSUED_ON)  # fmt: skip
        ops.resolve(membership=people["finance"], dispute=keyless, outcome="accepted",
                    text="no owner either", today=ISSUED_ON)  # fmt: skip
        ops.resolve(membership=people["finance"], dispute=tag, outcome="accepted", text="same",
                    today=ISSUED_ON)  # fmt: skip
        items = {i.dispute_id: i for i in EnforcementItem.objects.all()}
        assert (items[d.pk].kind, items[d.pk].value, items[d.pk].amount) == (
            "key",
            "key-bot-7",
            Decimal("4.00"),
        )
        # no request ids: the unit's requests of the month; the only gateway key among them
        assert (items[tag.pk].kind, items[tag.pk].value) == ("key", "key-bot-7")
        assert (items[keyless.pk].kind, items[keyless.pk].value) == ("tag", "team=SUP")
        assert items[d.pk].policy == "IT absorbs it once; the key is then blocked"
        assert AuditEvent.objects.filter(action="dispute.absorb").count() == 3
        credited = sum(n.amount for n in CreditNote.objects.all())
        assert credited == Decimal("5.50")
        billing = draft_statements(issued, NOV)
        moved = StatementLine.objects.filter(statement__period=billing, ref__startswith="dispute:")
        assert {(x.statement.unit.code, x.amount) for x in moved} == {
            ("CENTRAL", Decimal("4.00")), ("CENTRAL", Decimal("1.00")), ("CENTRAL", Decimal("0.50"))
        }  # fmt: skip
        assert all("IT absorbs it once; the key is then blocked" in x.description for x in moved)
        # to the cent: October less its credit notes, plus what November carries for it
        assert sum(s.total for s in octo) - credited + sum(x.amount for x in moved) == before

    page_url = reverse("disputes:enforcement-list", kwargs={"org_slug": "alpha"})
    client.force_login(people["finance"].user)
    page = client.get(page_url).content.decode()
    assert "key-bot-7" in page and "$5.50" in page
    assert (
        reverse("disputes:dispute-detail", kwargs={"org_slug": "alpha", "dispute_id": d.pk}) in page
    )
    client.force_login(people["sup_lead"].user)
    assert client.get(page_url).status_code == 403
