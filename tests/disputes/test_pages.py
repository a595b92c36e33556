"""The dispute pages through the test client: a team lead opens one from its statement, finance
works it from the inbox, both comment; other units' statements are 404."""

from __future__ import annotations

from django.urls import reverse

from chargeback.disputes.models import Dispute
from chargeback.tenancy.scoping import within

from .test_commands import issued  # noqa: F401 (issued today, so the window is open)


def _url(name, **kw):
    return reverse(f"disputes:{name}", kwargs={"org_slug": "alpha", **kw})


def test_a_team_lead_opens_a_dispute_and_finance_resolves_it(client, statements, people):
    sup = statements["SUP"]
    client.force_login(people["sup_lead"].user)
    page = client.get(reverse("billing:statement-detail", kwargs={"org_slug": "alpha",
                                                                  "statement_id": sup.pk}))  # fmt: skip
    assert _url("dispute-new", statement_id=sup.pk) in page.content.decode()
    form = client.get(_url("dispute-new", statement_id=sup.pk))
    assert form.status_code == 200 and b"Open the dispute" in form.content
    too_much = client.post(
        _url("dispute-new", statement_id=sup.pk),
        {"amount": "999", "reason": "pricing", "description": "wrong"},
    )
    assert too_much.status_code == 200 and b"is more than the statement allow" in too_much.content
    done = client.post(
        _url("dispute-new", statement_id=sup.pk),
        {"amount": "1.50", "reason": "wrong_owner", "description": "Sales' bot",
         "request_ids": "req-1, req-2"},
    )  # fmt: skip
    with within(statements["SUP"].organization):
        d = Dispute.objects.get()
    assert done.status_code == 302 and done["Location"] == _url("dispute-detail", dispute_id=d.pk)
    assert d.request_ids == ["req-1", "req-2"]
    mine = client.get(_url("dispute-list"))
    assert b"My disputes" in mine.content and sup.number.encode() in mine.content
    # another unit's statement is not found
    assert client.get(_url("dispute-new", statement_id=statements["SALES"].pk)).status_code == 404

    client.force_login(people["finance"].user)
    inbox = client.get(_url("dispute-list"), {"state": "open"})
    assert b"Dispute inbox" in inbox.content and sup.number.encode() in inbox.content
    partial = client.get(_url("dispute-list"), {"state": "rejected"}, HTTP_HX_REQUEST="true")
    assert b"No disputes" in partial.content and b"<html" not in partial.content
    detail = client.get(_url("dispute-detail", dispute_id=d.pk))
    assert b"Start review" in detail.content and b"Timeline" in detail.content
    act = _url("dispute-act", dispute_id=d.pk)
    client.post(act, {"action": "comment", "text": "Looking into it"})
    refused = client.post(
        act, {"action": "resolve", "outcome": "rejected", "text": ""}, follow=True
    )
    assert b"a rejection needs a written reason" in refused.content
    client.post(act, {"action": "resolve", "outcome": "accepted", "to_unit": "SALES",
                      "text": "Sales' traffic"})  # fmt: skip
    with within(statements["SUP"].organization):
        d.refresh_from_db()
        assert (d.state, d.reassigned_to.code, str(d.credited)) == ("accepted", "SALES", "1.5000")
        assert [e.action for e in d.events.all()] == [
            "open", "comment", "start_review", "accept"
        ]  # fmt: skip
    page = client.get(_url("dispute-detail", dispute_id=d.pk)).content.decode()
    assert "started the review" in page and "accepted" in page and "Sales&#x27; traffic" in page
    again = client.post(act, {"action": "resolve", "outcome": "rejected", "text": "no"},
                        follow=True)  # fmt: skip
    assert b"it is accepted" in again.content


def test_a_viewer_sees_but_cannot_dispute(client, statements, people):
    client.force_login(people["viewer"].user)
    assert client.get(_url("dispute-list")).status_code == 200
    assert client.get(_url("dispute-new", statement_id=statements["SUP"].pk)).status_code == 404


def test_the_statement_page_counts_the_window_down_in_business_days(client, statements, people):
    client.force_login(people["sup_lead"].user)
    page = client.get(
        reverse("billing:statement-detail", kwargs={"org_slug": "alpha",
                                                    "statement_id": statements["SUP"].pk})
    )  # fmt: skip
    assert b"5 business days left" in page.content  # issued today
