"""Opening, resolving and what follows: refusals (nothing written), the response clock, the
money a resolution moves to the next statements (the organisation's total unchanged, to the
cent), and statements becoming final."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from chargeback.audit.models import AuditEvent
from chargeback.billing.close import close_period, draft_statements
from chargeback.billing.finality import finalize_due
from chargeback.billing.models import CreditNote, Statement, StatementLine
from chargeback.billing.period_state import CloseError
from chargeback.calendar import Period
from chargeback.disputes import operations as ops
from chargeback.disputes.models import Dispute, DisputeEvent
from chargeback.tenancy.scoping import within
from chargeback.units.models import BusinessUnit
from tests.disputes.conftest import DEADLINE, ISSUED_ON, OCT

NOV = Period.parse("2026-11")
DAY = ISSUED_ON


def _open(people, statement, who="sup_lead", amount="1.00", **kw):
    kw.setdefault("reason", "pricing")
    kw.setdefault("description", "too much")
    return ops.open_dispute(
        membership=people[who], statement=statement, amount=amount, today=kw.pop("today", DAY),
        **kw,
    )  # fmt: skip


def _nothing_written(org):
    assert Dispute.objects.filter(organization=org).count() == 0
    assert not AuditEvent.objects.filter(organization=org, action__startswith="dispute.").exists()


def test_open_records_the_dispute_its_timeline_and_audit(issued, statements, people):
    with within(issued):
        sup = statements["SUP"]
        usage = sup.lines.get(kind="usage")
        d = _open(people, sup, line_ids=[usage.pk], request_ids=["req-1", " ", "req-2"])
        assert (d.state, d.amount, d.unit.code, d.opened_on) == (
            "open",
            Decimal("1.00"),
            "SUP",
            DAY,
        )
        assert d.respond_by == dt.date(2026, 11, 9)  # five business days
        assert d.request_ids == ["req-1", "req-2"]
        assert [t.line_id for t in d.targets.all()] == [usage.pk]
        assert [e.action for e in d.events.all()] == ["open"]
        assert AuditEvent.objects.get(action="dispute.open").after["amount"] == "1.00"


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"today": DEADLINE + dt.timedelta(days=1)}, "the review window closed on 2026-11-09"),
        ({"amount": "8.26"}, "amount: 8.26 is more than the statement allow: at most 8.25"),
        ({"amount": "0"}, 'amount: "0" must be more than zero'),
        ({"amount": "abc"}, 'amount: "abc" is not an amount'),
        ({"amount": "1.001"}, "has more decimals than USD allows"),
        ({"reason": "because"}, 'reason: "because" is not one of wrong_owner'),
        ({"description": "  "}, "text: say what is wrong"),
        ({"line_ids": [999999]}, "lines: 999999 is not a line of statement"),
    ],
)
def test_bad_openings_are_refused_and_write_nothing(issued, statements, people, kw, error):
    with within(issued):
        with pytest.raises(ops.DisputeError, match=error.replace("(", r"\(")):
            _open(people, statements["SUP"], **kw)
        _nothing_written(issued)


def test_the_deadline_day_itself_is_still_open(issued, statements, people):
    with within(issued):
        assert _open(people, statements["SUP"], today=DEADLINE).state == "open"


def test_another_units_statement_is_not_found_for_a_team_lead(issued, statements, people):
    with within(issued):
        with pytest.raises(ops.DisputeNotFound, match="not found"):
            _open(people, statements["SALES"], who="sup_lead")
        with pytest.raises(ops.DisputeNotFound):
            _open(people, statements["SUP"], who="viewer")
        _nothing_written(issued)
        # finance and admins open on a unit's behalf
        assert _open(people, statements["SALES"], who="finance").unit.code == "SALES"
        assert _open(people, statements["SALES"], who="admin").unit.code == "SALES"


def test_the_amount_is_limited_by_what_other_disputes_claim(issued, statements, people):
    with within(issued):
        sup = statements["SUP"]
        lines = {x.kind: x for x in sup.lines.all()}  # usage 5.00, markup 2.50, fee 0.75
        _open(people, sup, amount="4.00", line_ids=[lines["usage"].pk])
        with pytest.raises(ops.DisputeError, match="at most 1.00"):
            _open(people, sup, amount="1.01", line_ids=[lines["usage"].pk])
        # another line is not claimed by the first
        assert _open(people, sup, amount="2.50", line_ids=[lines["markup"].pk])
        # the whole statement: 8.25 - 4.00 - 2.50
        with pytest.raises(ops.DisputeError, match="at most 1.75"):
            _open(people, sup, amount="1.76")


def test_a_showback_statement_may_be_disputed_and_moves_no_money(issued, statements, people):
    with within(issued):
        agent = statements["AGENT"]
        assert agent.mode == "showback"
        d = _open(people, agent, who="finance", amount="10.00")
        ops.resolve(membership=people["finance"], dispute=d, outcome="accepted", text="ok",
                    today=DAY)  # fmt: skip
        billing = draft_statements(issued, NOV)
        assert not StatementLine.objects.filter(
            statement__period=billing, ref__startswith="dispute:"
        ).exists()


def test_only_finance_resolves_and_a_rejection_needs_a_reason(issued, statements, people):
    with within(issued):
        d = _open(people, statements["SUP"])
        with pytest.raises(ops.DisputeError, match="only finance and admins may accept"):
            ops.resolve(membership=people["sup_lead"], dispute=d, outcome="accepted", text="")
        with pytest.raises(ops.DisputeError, match="text: a rejection needs a written reason"):
            ops.resolve(membership=people["finance"], dispute=d, outcome="rejected", text=" ")
        with pytest.raises(ops.DisputeError, match="amount: a partial acceptance names"):
            ops.resolve(membership=people["finance"], dispute=d, outcome="partially_accepted",
                        text="x")  # fmt: skip
        with pytest.raises(ops.DisputeError, match="amount: 1.00 is not less than"):
            ops.resolve(membership=people["finance"], dispute=d, outcome="partially_accepted",
                        amount="1.00", text="x")  # fmt: skip
        with pytest.raises(ops.DisputeError, match="only a wrong_owner dispute moves"):
            ops.resolve(membership=people["finance"], dispute=d, outcome="accepted", text="x",
                        to_unit=statements["SALES"].unit)  # fmt: skip
        with pytest.raises(ops.DisputeError, match='outcome: "maybe" is not one of'):
            ops.resolve(membership=people["finance"], dispute=d, outcome="maybe", text="x")
        d.refresh_from_db()
        assert d.state == "open" and d.events.count() == 1
        with pytest.raises(ops.DisputeNotFound):
            ops.comment(membership=people["sales_lead"], dispute=d, text="mine?")
        with pytest.raises(ops.DisputeError, match="only the one who opened"):
            ops.withdraw(membership=people["finance"], dispute=d)
        done = ops.resolve(membership=people["finance"], dispute=d, outcome="rejected",
                           text="The price was the published one", today=DAY)  # fmt: skip
        assert (done.state, done.credited, done.resolution) == (
            "rejected",
            Decimal(0),
            "The price was the published one",
        )


def test_two_finance_users_resolving_at_once_one_wins(issued, statements, people):
    with within(issued):
        d = _open(people, statements["SUP"])
        stale = Dispute.objects.get(pk=d.pk)  # the second user's page, loaded before
        ops.resolve(membership=people["finance"], dispute=d, outcome="accepted", text="yes",
                    today=DAY)  # fmt: skip
        with pytest.raises(ops.DisputeError) as caught:
            ops.resolve(membership=people["finance2"], dispute=stale, outcome="rejected",
                        text="no", today=DAY)  # fmt: skip
        assert str(caught.value) == (
            f"cannot reject dispute {d.pk}: it is accepted (nothing more can happen to it)"
        )
        assert Dispute.objects.get(pk=d.pk).credited == Decimal("1.00")


def test_information_requested_pauses_the_response_clock(issued, statements, people):
    with within(issued):
        d = _open(people, statements["SUP"])  # Monday 2 Nov, respond by Monday 9 Nov
        ops.start_review(membership=people["finance"], dispute=d, today=DAY)
        ops.request_info(membership=people["finance"], dispute=d, text="Which requests?",
                         today=dt.date(2026, 11, 3))  # fmt: skip
        d = ops.answer_info(membership=people["sup_lead"], dispute=d, text="req-1",
                            today=dt.date(2026, 11, 6))  # fmt: skip
        assert d.paused_days == 3  # Wed, Thu, Fri
        assert d.respond_by == dt.date(2026, 11, 12)
        assert [(e.action, e.to_state) for e in d.events.all()] == [
            ("open", "open"), ("start_review", "under_review"),
            ("request_info", "info_requested"), ("answer_info", "under_review"),
        ]  # fmt: skip


def test_an_accepted_dispute_is_a_credit_note_and_the_move_reaches_the_next_statements(
    issued, statements, people
):
    with within(issued):
        sup, sales = statements["SUP"], statements["SALES"]
        octo = Statement.objects.filter(period__month=OCT.first)
        before = sum(s.total for s in octo)
        d = _open(people, sup, amount="3.00", reason="wrong_owner")
        o = _open(people, sup, amount="1.00", reason="duplicate")
        ops.resolve(membership=people["finance"], dispute=d, outcome="partially_accepted",
                    amount="2.00", to_unit=sales.unit, text="half of it was Sales'",
                    today=DAY)  # fmt: skip
        ops.resolve(membership=people["admin"], dispute=o, outcome="accepted", text="dup",
                    today=DAY)  # fmt: skip
        # October is issued, not final: each credit is a credit note against SUP's statement,
        # the statement itself stays as issued.
        notes = list(CreditNote.objects.order_by("number"))
        assert [(n.number, n.statement_id, n.amount, n.ref) for n in notes] == [
            (f"{sup.number}-CN1", sup.pk, Decimal("2.00"), f"dispute:{d.pk}"),
            (f"{sup.number}-CN2", sup.pk, Decimal("1.00"), f"dispute:{o.pk}"),
        ]
        assert Statement.objects.get(pk=sup.pk).total == sup.total == Decimal("8.25")
        assert AuditEvent.objects.filter(action="billing.credit_note").count() == 2
        billing = draft_statements(issued, NOV)
        lines = {
            (x.statement.unit.code, x.kind, x.amount, x.ref)
            for x in StatementLine.objects.filter(
                statement__period=billing, ref__startswith="dispute:"
            )
        }
        assert lines == {  # the moves only: SUP was credited by the notes
            ("SALES", "adjustment", Decimal("2.00"), f"dispute:{d.pk}"),
            ("CENTRAL", "adjustment", Decimal("1.00"), f"dispute:{o.pk}"),
        }
        nov = {s.unit.code: s for s in billing.statements.all()}
        credited = sum(n.amount for n in notes)
        # The organisation's total is unchanged to the cent; the units move by the amounts.
        owed = sum(s.total for s in octo) - credited + sum(s.total for s in nov.values())
        assert owed == before
        assert sup.total - credited == Decimal("5.25")
        assert nov["SALES"].total == Decimal("2.00") and nov["CENTRAL"].total == Decimal("1.00")
        adjustment = nov["SALES"].lines.get(kind="adjustment")
        assert "2026-10" in adjustment.description and "from SUP" in adjustment.description


def test_a_dispute_on_a_final_statement_is_credited_on_the_next_statement(
    issued, statements, people
):
    with within(issued):
        sup, sales = statements["SUP"], statements["SALES"]
        d = _open(people, sup, amount="3.00", reason="wrong_owner")
        # A statement made final while the dispute was open (before holds existed).
        Statement.objects.filter(pk=sup.pk).update(status="final")
        ops.resolve(membership=people["finance"], dispute=d, outcome="partially_accepted",
                    amount="2.00", to_unit=sales.unit, text="half", today=DAY)  # fmt: skip
        assert not CreditNote.objects.exists()
        billing = draft_statements(issued, NOV)
        lines = {
            (x.statement.unit.code, x.kind, x.amount)
            for x in StatementLine.objects.filter(statement__period=billing)
        }
        assert lines == {
            ("SUP", "credit", Decimal("-2.00")),
            ("SALES", "adjustment", Decimal("2.00")),
        }


def test_statements_become_final_after_the_window_unless_a_dispute_holds_them(
    issued, statements, people
):
    with within(issued):
        d = _open(people, statements["SUP"])
        assert finalize_due(issued, today=DEADLINE) == []  # the window is still open
        after = DEADLINE + dt.timedelta(days=1)
        done = finalize_due(issued, today=after)
        assert sorted(s.unit.code for s in done) == sorted(set(statements) - {"SUP"})
        assert Statement.objects.get(pk=statements["SUP"].pk).status == "issued"
        with pytest.raises(CloseError, match=f"has an open dispute \\({d.pk}\\)"):
            close_period(issued, OCT)
        assert finalize_due(issued, today=after) == []  # idempotent
        # resolving the last open dispute after the window makes the statement final at once
        ops.resolve(membership=people["finance"], dispute=d, outcome="rejected", text="no",
                    today=after)  # fmt: skip
        assert Statement.objects.get(pk=statements["SUP"].pk).status == "final"
        assert AuditEvent.objects.filter(action="billing.finalize").count() == len(done) + 1
        close_period(issued, OCT, today=after)


def test_comments_from_both_sides_are_on_the_timeline(issued, statements, people):
    with within(issued):
        d = _open(people, statements["SUP"])
        ops.comment(membership=people["finance"], dispute=d, text="Looking")
        ops.comment(membership=people["sup_lead"], dispute=d, text="Thanks")
        assert [(e.action, e.actor_label, e.text) for e in DisputeEvent.objects.filter(
            dispute=d, action="comment")] == [
            ("comment", "fin@alpha.example (finance)", "Looking"),
            ("comment", "sup@alpha.example (team lead)", "Thanks"),
        ]  # fmt: skip
        with pytest.raises(ops.DisputeError, match="text: the comment is empty"):
            ops.comment(membership=people["finance"], dispute=d, text="")


def test_to_unit_must_be_another_live_unit(issued, statements, people):
    with within(issued):
        d = _open(people, statements["SUP"], reason="wrong_owner")
        with pytest.raises(ops.DisputeError, match="is the disputed unit itself"):
            ops.resolve(membership=people["finance"], dispute=d, outcome="accepted", text="x",
                        to_unit=statements["SUP"].unit)  # fmt: skip
        ops_unit = BusinessUnit.objects.get(code="OPS")
        BusinessUnit.objects.filter(pk=ops_unit.pk).update(archived=True)
        ops_unit.refresh_from_db()
        with pytest.raises(ops.DisputeError, match="OPS is archived"):
            ops.resolve(membership=people["finance"], dispute=d, outcome="accepted", text="x",
                        to_unit=ops_unit)  # fmt: skip


def test_finalize_statements_prints_each_and_is_idempotent(issued, statements):
    # Issued on 2 November 2026: today (December 2026 or later) is after the window.
    out = _run("finalize_statements", "--org", "alpha")
    assert sorted(out.splitlines()) == sorted(f"final {s.number}" for s in statements.values())
    assert _run("finalize_statements", "--org", "alpha") == "no statement to finalize"


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def test_an_overdue_dispute_is_flagged_and_the_admins_told_once(
    issued, statements, people, mailoutbox, django_capture_on_commit_callbacks
):
    from chargeback.disputes.notices import flag_overdue

    with within(issued):
        d = _open(people, statements["SUP"])  # respond by Monday 9 November
        assert flag_overdue(issued, today=dt.date(2026, 11, 9)) == []
        with django_capture_on_commit_callbacks(execute=True):
            assert flag_overdue(issued, today=dt.date(2026, 11, 10)) == [d]
        assert flag_overdue(issued, today=dt.date(2026, 11, 11)) == []  # once
        d.refresh_from_db()
        assert d.overdue_notified_on == dt.date(2026, 11, 10) and d.state == "open"
        assert [e.action for e in d.events.all()] == ["open", "overdue"]
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["adm@alpha.example"]
    assert f"dispute {d.pk} on {statements['SUP'].number}" in mailoutbox[0].body


def test_the_beat_task_finalizes_and_flags(issued, statements, people):
    from chargeback.disputes.tasks import finalize_due_statements

    with within(issued):
        d = _open(people, statements["SUP"])
    finalize_due_statements()  # in-process in tests; today is after the window
    with within(issued):
        assert set(
            Statement.objects.filter(status="final").values_list("unit__code", flat=True)
        ) == (set(statements) - {"SUP"})
        d.refresh_from_db()
        assert d.overdue_notified_on is not None


def test_the_period_report_by_reason_and_outcome(issued, statements, people):
    with within(issued):
        a = _open(people, statements["SUP"], amount="2.00", reason="pricing")
        b = _open(people, statements["SALES"], who="finance", amount="3.00", reason="pricing")
        _open(people, statements["SALES"], who="finance", amount="1.00", reason="tags")
        ops.resolve(membership=people["finance"], dispute=a, outcome="accepted", text="ok",
                    today=dt.date(2026, 11, 4))  # fmt: skip
        ops.resolve(membership=people["finance"], dispute=b, outcome="partially_accepted",
                    amount="1.00", text="ok", today=dt.date(2026, 11, 5))  # fmt: skip
    csv_text = _run(
        "disputes", "--org", "alpha", "report", "--period", "2026-10", "--format", "csv"
    )
    assert csv_text.splitlines() == [
        "reason,outcome,disputes,disputed,credited,median_days",
        "pricing,accepted,1,2.00,2.00,2",
        "pricing,partially_accepted,1,3.00,1.00,3",
        "tags,open,1,1.00,0.00,",
    ]


def test_a_resolution_makes_the_next_months_drafts_stale(issued, statements, people):
    from chargeback.billing.close import issue_statements  # noqa: PLC0415 (test-local)
    from chargeback.billing.staleness import stale_reasons  # noqa: PLC0415 (test-local)

    with within(issued):
        d = _open(people, statements["SUP"], amount="2.00")
        billing = draft_statements(issued, NOV)
        assert stale_reasons(issued, billing, NOV, usage=False) == []
        ops.resolve(membership=people["finance"], dispute=d, outcome="accepted", text="ok",
                    today=DAY)  # fmt: skip
        reasons = stale_reasons(issued, billing, NOV, usage=False)
        assert reasons == [
            "a dispute was resolved with credits or adjustments this month's statements carry"
        ]
        with pytest.raises(CloseError, match="a dispute was resolved"):
            issue_statements(issued, NOV, today=dt.date(2026, 12, 1))
        billing = draft_statements(issued, NOV)  # the redraft picks the adjustment up now
        assert stale_reasons(issued, billing, NOV, usage=False) == []
        assert StatementLine.objects.filter(
            statement__period=billing, ref=f"dispute:{d.pk}", kind="adjustment",
            amount=Decimal("2.00"),
        ).exists()  # fmt: skip
