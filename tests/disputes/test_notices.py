"""Who is told what: statements issued (each unit's owner and team leads: amount, change from
last month, deadline, link), each dispute step, and the reminders two business days (the
organisation's calendar) before a deadline, once however often beat runs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from chargeback.allocation.policy import parse_policy
from chargeback.billing.close import draft_statements, issue_statements
from chargeback.billing.models import BillingPeriod, Statement
from chargeback.billing.policy_versions import save_policy
from chargeback.disputes import operations as ops
from chargeback.disputes.announce import change_from_last_month
from chargeback.disputes.reminders import send_reminders
from chargeback.disputes.tasks import finalize_period
from chargeback.notices.models import Notice
from chargeback.pricing.books import import_prices, parse_prices
from chargeback.tenancy.models import Role
from chargeback.tenancy.scoping import within
from chargeback.units.models import BusinessUnit
from tests import factories as f
from tests.billing.test_close import FLAT, WORKED_POLICY, _flat_events
from tests.disputes.conftest import DEADLINE, ISSUED_ON, OCT, member
from tests.usage.conftest import ingest


def _notices(org, membership):
    with within(org):
        return list(
            Notice.objects.filter(user=membership.user).order_by("id").values_list("key", "subject")
        )


def test_issuing_tells_each_units_owner_and_team_leads(
    worked, mailoutbox, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        units = {u.code: u for u in BusinessUnit.objects.filter(organization=worked)}
        BusinessUnit.objects.filter(pk=units["SUP"].pk).update(billing_mode="chargeback")
    sup_lead = member(worked, Role.TEAM_LEAD, "sup@alpha.example", [units["SUP"]])
    viewer = member(worked, Role.VIEWER, "view@alpha.example")
    with within(worked):
        draft_statements(worked, OCT)
        with django_capture_on_commit_callbacks(execute=True):
            issue_statements(worked, OCT, today=ISSUED_ON)
        sup = Statement.objects.get(unit__code="SUP")
    told = _notices(worked, sup_lead)
    assert told == [
        (f"statement:{sup.pk}:issued", f"Statement {sup.number} for {sup.unit_name}: $8.25 "
         "for October 2026")
    ]  # fmt: skip
    assert _notices(worked, viewer) == []
    mail = [m for m in mailoutbox if m.to == ["sup@alpha.example"]]
    assert len(mail) == 1
    assert mail[0].subject == f"{worked.name}: {told[0][1]}"
    body = mail[0].body
    assert "owes $8.25." in body
    assert "Change from last month: no statement for September 2026." in body
    assert "You can dispute a charge until Monday 9 November 2026" in body
    assert f"http://127.0.0.1:8000/o/{worked.slug}/statements/{sup.pk}/" in body
    # the owner (owner@example.com, not a member) is mailed about each unit's statement
    with within(worked):
        count = Statement.objects.filter(period__month=OCT.first).count()
    assert len([m for m in mailoutbox if m.to == ["owner@example.com"]]) == count


def test_change_from_last_month_against_the_previous_issued_statement(issued, statements):
    sup = statements["SUP"]
    with scopes_disabled():
        sep = BillingPeriod.objects.create(organization=issued, month=dt.date(2026, 9, 1))
        prev = Statement.objects.create(
            organization=issued, period=sep, unit=sup.unit, number="SEP-SUP", sequence=99,
            mode="chargeback", currency="USD", total=Decimal("10.00"),
        )  # fmt: skip
        # as issuing does: the month goes to review, its statements are issued
        BillingPeriod.objects.filter(pk=sep.pk).update(state="in_review")
        Statement.objects.filter(pk=prev.pk).update(status="issued")
    with within(issued):
        assert change_from_last_month(sup) == "-$1.75 from September 2026 ($10.00)"


def test_each_dispute_step_tells_the_other_side_in_app_and_by_mail(
    issued, statements, people, mailoutbox, django_capture_on_commit_callbacks
):
    with within(issued):
        with django_capture_on_commit_callbacks(execute=True):
            d = ops.open_dispute(
                membership=people["sup_lead"], statement=statements["SUP"], amount="2.00",
                reason="pricing", description="priced twice", today=ISSUED_ON,
            )  # fmt: skip
        opened = [m for m in mailoutbox if m.to == ["fin@alpha.example"]]
        assert len(opened) == 1
        assert opened[0].subject.endswith(
            f"Dispute {d.pk} on {statements['SUP'].number} (SUP, $2.00) opened"
        )
        assert "priced twice" in opened[0].body and "Finance responds by Monday 9 November 2026"
        assert not [m for m in mailoutbox if m.to == ["sup@alpha.example"]]  # not the opener
        mailoutbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            ops.start_review(membership=people["finance"], dispute=d, today=ISSUED_ON)
            ops.request_info(
                membership=people["finance"], dispute=d, text="Which requests?", today=ISSUED_ON
            )
        asked = [m for m in mailoutbox if m.to == ["sup@alpha.example"]]
        assert len(asked) == 2  # review started, then information requested
        assert asked[1].subject.endswith("needs information from you")
        assert "Which requests?" in asked[1].body and "clock is paused" in asked[1].body
        assert not [m for m in mailoutbox if m.to == ["fin@alpha.example"]]  # the actor
        assert [m.to for m in mailoutbox if "needs information" in m.subject].count(
            ["fin2@alpha.example"]
        ) == 1  # the other finance member is kept in the loop
        mailoutbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            ops.answer_info(membership=people["sup_lead"], dispute=d, text="req-1", today=ISSUED_ON)
            ops.resolve(
                membership=people["finance"], dispute=d, outcome="rejected",
                text="The price was right.", today=ISSUED_ON,
            )  # fmt: skip
        rejected = [m for m in mailoutbox if "was rejected" in m.subject]
        assert sorted(m.to[0] for m in rejected) == sorted(
            ["sup@alpha.example", "fin2@alpha.example", "adm@alpha.example"]
        )
        assert "The price was right." in rejected[0].body
    lead = [s for _, s in _notices(issued, people["sup_lead"])]
    assert [s.rsplit(") ", 1)[1] for s in lead] == [
        "is under review", "needs information from you", "was rejected"
    ]  # fmt: skip
    assert len(_notices(issued, people["viewer"])) == 0
    assert len(_notices(issued, people["sales_lead"])) == 0  # not their unit


def test_reminders_two_business_days_before_each_deadline_once(
    issued, statements, people, mailoutbox, django_capture_on_commit_callbacks
):
    # The window and the response date both end on Monday 9 November.
    with within(issued):
        d = ops.open_dispute(
            membership=people["sup_lead"], statement=statements["SUP"], amount="1.00",
            reason="pricing", description="x", today=ISSUED_ON,
        )  # fmt: skip
        assert send_reminders(issued, today=dt.date(2026, 11, 4)) == 0  # 3 business days
        Notice.objects.all().delete()
        mailoutbox.clear()
        for _ in range(3):  # Thursday 5th: Friday and Monday left; sent once
            with django_capture_on_commit_callbacks(execute=True):
                send_reminders(issued, today=dt.date(2026, 11, 5))
        assert send_reminders(issued, today=dt.date(2026, 11, 10)) == 0  # past
    fin = _notices(issued, people["finance"])
    assert fin == [
        (f"dispute:{d.pk}:respond-by:2026-11-09",
         f"Respond to dispute {d.pk} (SUP, $1.00) by Monday 9 November")
    ]  # fmt: skip
    sup_number = statements["SUP"].number
    assert _notices(issued, people["sup_lead"]) == [
        (f"statement:{statements['SUP'].pk}:window:2026-11-09",
         f"Statement {sup_number}: disputes close on Monday 9 November")
    ]  # fmt: skip
    assert len([m for m in mailoutbox if m.to == ["fin@alpha.example"]]) == 1
    assert len([m for m in mailoutbox if m.to == ["sup@alpha.example"]]) == 1


def test_the_reminder_counts_the_organisations_closure_days(issued, statements, people):
    with scopes_disabled():
        issued.closure_days = ["2026-11-06"]  # Friday: Wednesday is two business days before
        issued.save(update_fields=["closure_days"])
    with within(issued):
        assert send_reminders(issued, today=dt.date(2026, 11, 3)) == 0
        assert send_reminders(issued, today=dt.date(2026, 11, 4)) > 0
    assert _notices(issued, people["sup_lead"])[0][0].endswith(f":window:{DEADLINE}")


def test_the_beat_task_sends_the_reminders_once(issued, statements, people, monkeypatch):
    with scopes_disabled():
        period_id = BillingPeriod.objects.get(organization=issued, month=OCT.first).pk
    from chargeback.disputes import reminders

    with within(issued):  # holds SUP's statement open past its window
        d = ops.open_dispute(
            membership=people["sup_lead"], statement=statements["SUP"], amount="1.00",
            reason="pricing", description="x", today=ISSUED_ON,
        )  # fmt: skip
    monkeypatch.setattr(reminders, "local_today", lambda tz: dt.date(2026, 11, 6))
    finalize_period(period_id)
    finalize_period(period_id)
    assert [k for k, _ in _notices(issued, people["finance"]) if ":respond-by:" in k] == [
        f"dispute:{d.pk}:respond-by:2026-11-09"
    ]
    assert [k for k, _ in _notices(issued, people["sup_lead"])] == [
        f"statement:{statements['SUP'].pk}:window:2026-11-09"
    ]


def test_the_bell_counts_notices_and_the_page_marks_them_read(
    issued, statements, people, client_for
):
    with within(issued):
        ops.open_dispute(
            membership=people["finance"], statement=statements["SUP"], amount="1.00",
            reason="pricing", description="x", today=ISSUED_ON,
        )  # fmt: skip
    lead = client_for(people["sup_lead"])
    page = lead.get(f"/o/{issued.slug}/notices/").content.decode()
    assert "notifications: 1 unread" in page and "(SUP, $1.00) opened" in page
    lead.post(f"/o/{issued.slug}/notices/", {})
    assert "notifications: 0 unread" in lead.get(f"/o/{issued.slug}/notices/").content.decode()
    assert (
        "No notifications"
        in client_for(people["viewer"]).get(f"/o/{issued.slug}/notices/").content.decode()
    )


def test_an_opener_no_longer_a_member_is_not_told(
    issued, statements, people, mailoutbox, django_capture_on_commit_callbacks
):
    """The one who opened a dispute is told of its steps while a member of the organisation;
    once removed, not (neither a notice nor a mail with the dispute's figures and texts)."""
    with within(issued):
        d = ops.open_dispute(
            membership=people["sup_lead"], statement=statements["SUP"], amount="2.00",
            reason="pricing", description="priced twice", today=ISSUED_ON,
        )  # fmt: skip
    with scopes_disabled():
        people["sup_lead"].units.clear()
        people["sup_lead"].delete()
    mailoutbox.clear()
    with within(issued), django_capture_on_commit_callbacks(execute=True):
        ops.start_review(
            membership=people["finance"], dispute=d, text="confidential", today=ISSUED_ON
        )
    assert not [m for m in mailoutbox if m.to == ["sup@alpha.example"]]
    with within(issued):
        assert not Notice.objects.filter(user=people["sup_lead"].user).exists()


def _organisation_of_units(slug: str, n: int):
    """An organisation with `n` units, each with usage in October and its own team lead."""
    with scopes_disabled():
        org = f.OrganizationFactory(slug=slug, name=slug.title())
        f.BusinessUnitFactory(organization=org, code="CENTRAL", name="Central", is_central=True)
        units = [
            f.BusinessUnitFactory(organization=org, code=f"U{i}", name=f"Unit {i}")
            for i in range(n)
        ]
    leads = {u.pk: member(org, Role.TEAM_LEAD, f"{u.code}@{slug}.example", [u]) for u in units}
    with within(org):
        import_prices(org, parse_prices(FLAT), actor="test", label="flat")
        save_policy(organization=org, policy=parse_policy(WORKED_POLICY), actor="test")
    ingest(org, [e for u in units for e in _flat_events(u.code, 1, u.code.lower())])
    with within(org):
        draft_statements(org, OCT)
    return org, leads


def _membership_reads(ctx) -> int:
    return sum('"tenancy_membership' in q["sql"] for q in ctx.captured_queries)


def test_the_people_of_every_statement_are_read_at_once(db, django_capture_on_commit_callbacks):
    """Issuing and the window reminders read the members the same number of times for 2
    statements as for 6, and tell each unit's team lead of its own statement only."""
    reads = {}
    for n in (2, 6):
        org, leads = _organisation_of_units(f"org-{n}", n)
        with within(org):
            with (
                CaptureQueriesContext(connection) as issuing,
                django_capture_on_commit_callbacks(execute=True),
            ):
                issue_statements(org, OCT, today=ISSUED_ON)
            with CaptureQueriesContext(connection) as reminding:
                send_reminders(org, today=dt.date(2026, 11, 5))
            statements = {s.unit_id: s.pk for s in Statement.objects.all()}
        reads[n] = (_membership_reads(issuing), _membership_reads(reminding))
        assert set(leads) <= set(statements)  # and the central unit's
        for unit_id, lead in leads.items():
            assert [k for k, _ in _notices(org, lead)] == [
                f"statement:{statements[unit_id]}:issued",
                f"statement:{statements[unit_id]}:window:{DEADLINE}",
            ]
    assert reads[2] == reads[6]
