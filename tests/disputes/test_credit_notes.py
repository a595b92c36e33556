# ruff: noqa: F811 (the issued fixture is imported from test_commands)
"""Credit notes for disputes accepted while their statement is not final, the credit on the
unit's wallet (once), and the statement's page and PDF telling the same dispute story."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled
from pypdf import PdfReader

from chargeback.billing import dispute_story
from chargeback.billing.close import close_period
from chargeback.billing.models import CreditNote, Statement
from chargeback.billing.pdf import store_pdf
from chargeback.disputes import operations as ops
from chargeback.tenancy.scoping import within
from chargeback.wallets.accounts import open_wallet
from chargeback.wallets.funding import post_credit_note
from chargeback.wallets.models import LedgerEntry, WalletKind

from .test_commands import OCT, issued  # noqa: F401 (issued today: the window is open)


def squash(value: str) -> str:
    return re.sub(r"\s+", " ", value).strip()


def page_text(client, statement) -> str:
    url = reverse(
        "billing:statement-detail", kwargs={"org_slug": "alpha", "statement_id": statement.pk}
    )
    response = client.get(url)
    assert response.status_code == 200
    return squash(re.sub(r"<[^>]+>", " ", response.content.decode()))


def pdf_text(client, statement) -> str:
    url = reverse(
        "billing:statement-pdf", kwargs={"org_slug": "alpha", "statement_id": statement.pk}
    )
    response = client.get(url)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(response.content))
    return squash(" ".join(page.extract_text() or "" for page in reader.pages))


@pytest.fixture
def wallet(issued):  # noqa: F811 (the fixture imported above)
    with scopes_disabled():
        from chargeback.units.models import BusinessUnit  # noqa: PLC0415 (test-local)

        sup = BusinessUnit.objects.get(organization=issued, code="SUP")
    with within(issued):
        return open_wallet(organization=issued, unit=sup, kind=WalletKind.TEAM, actor="test")


def test_an_accepted_dispute_credits_the_wallet_once(issued, statements, people, wallet):
    with within(issued):
        sup = statements["SUP"]
        d = ops.open_dispute(membership=people["sup_lead"], statement=sup, amount="1.25",
                             reason="pricing", description="old price")  # fmt: skip
        ops.resolve(membership=people["finance"], dispute=d, outcome="accepted", text="yes")
        note = CreditNote.objects.get()
        assert (note.number, note.amount) == (f"{sup.number}-CN1", Decimal("1.25"))
        entries = LedgerEntry.objects.filter(wallet=wallet, type="credit")
        assert [(e.amount, e.idempotency_key) for e in entries] == [
            (Decimal("1.25"), f"credit_note:{note.pk}")
        ]
        post_credit_note(organization=issued, credit_note=note, actor="again")  # idempotent
        assert LedgerEntry.objects.filter(wallet=wallet, type="credit").count() == 1
        close_period(issued, OCT, override_reason="test")
        wallet.refresh_from_db()
        # charged the statement's total, credited the note: the unit pays 8.25 - 1.25
        moved = LedgerEntry.objects.filter(wallet=wallet, type__in=["credit", "chargeback"])
        assert sum(e.amount for e in moved) == Decimal("-7.00")


def test_a_showback_dispute_issues_no_credit_note(issued, statements, people):
    with within(issued):
        agent = statements["AGENT"]
        d = ops.open_dispute(membership=people["finance"], statement=agent, amount="1.00",
                             reason="pricing", description="x")  # fmt: skip
        ops.resolve(membership=people["finance"], dispute=d, outcome="accepted", text="yes")
        assert not CreditNote.objects.exists()


def test_credit_notes_are_immutable(issued, statements, people):
    from chargeback.billing.models import ImmutableCreditNote  # noqa: PLC0415 (test-local)

    with within(issued):
        d = ops.open_dispute(membership=people["sup_lead"], statement=statements["SUP"],
                             amount="1.00", reason="pricing", description="x")  # fmt: skip
        ops.resolve(membership=people["finance"], dispute=d, outcome="accepted", text="yes")
        note = CreditNote.objects.get()
        with pytest.raises(ImmutableCreditNote):
            note.save()
        with pytest.raises(ImmutableCreditNote):
            note.delete()


def test_page_and_pdf_tell_the_same_story(client, issued, statements, people):
    sup = statements["SUP"]
    client.force_login(people["sup_lead"].user)
    with within(issued):
        open_one = dispute_story.window_text(Statement.objects.get(pk=sup.pk), issued.today())
    assert open_one.startswith("You can dispute until ")
    assert open_one in page_text(client, sup) and open_one in pdf_text(client, sup)
    assert "No dispute has been opened on this statement." in pdf_text(client, sup)
    with within(issued):  # the PDF as issued is stored; it no longer tells the story below
        store_pdf(Statement.objects.select_related("organization", "period", "unit").get(pk=sup.pk))
        assert dispute_story.pdf_is_current(Statement.objects.get(pk=sup.pk))

    with within(issued):
        d = ops.open_dispute(membership=people["sup_lead"], statement=sup, amount="2.00",
                             reason="duplicate", description="twice")  # fmt: skip
        r = ops.open_dispute(membership=people["sup_lead"], statement=sup, amount="1.00",
                             reason="pricing", description="old")  # fmt: skip
        ops.resolve(membership=people["finance"], dispute=d, outcome="partially_accepted",
                    amount="1.50", text="half of it")  # fmt: skip
        ops.resolve(membership=people["finance"], dispute=r, outcome="rejected",
                    text="the price was right")  # fmt: skip
        story = dispute_story.story(Statement.objects.get(pk=sup.pk))
        assert not dispute_story.pdf_is_current(Statement.objects.get(pk=sup.pk))
    assert len(story.disputes) == 2
    assert "partially accepted" in story.disputes[0] and "$1.50 credited" in story.disputes[0]
    assert "rejected" in story.disputes[1] and "the price was right" in story.disputes[1]
    page, pdf = page_text(client, sup), pdf_text(client, sup)
    for sentence in [story.window, *story.disputes]:
        assert sentence in page, sentence
        assert sentence in pdf, sentence
    number = f"{sup.number}-CN1"
    assert number in page and number in pdf
    assert "Total less credit notes $6.75" in page and "Total less credit notes $6.75" in pdf

    client.force_login(people["finance"].user)
    with within(issued):
        close_period(issued, OCT, actor=people["finance"].user,
                     override_reason="Auditors need October final today.")  # fmt: skip
        closed = dispute_story.window_text(Statement.objects.get(pk=sup.pk), issued.today())
    assert closed.startswith("Closed early on ")
    assert closed.endswith("by fin@alpha.example: Auditors need October final today.")
    client.force_login(people["sup_lead"].user)  # the team lead sees the override and reason
    assert closed in page_text(client, sup) and closed in pdf_text(client, sup)
