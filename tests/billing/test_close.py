"""Month-end close: drafts from the rollup and the policy, numbering, issue (immutable,
dispute deadline), close, late events as adjustments, and the commands."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Sum

from chargeback.allocation.policy import parse_policy
from chargeback.audit.models import AuditEvent
from chargeback.billing.checksums import verify
from chargeback.billing.close import (
    close_period,
    draft_statements,
    issue_statements,
    quarantine_warning,
)
from chargeback.billing.models import (
    BillingPeriod,
    ImmutableStatement,
    OutcomeCount,
    PeriodState,
    Statement,
    StatementLine,
)
from chargeback.billing.period_state import CloseError
from chargeback.billing.policy_versions import save_policy
from chargeback.calendar import Period
from chargeback.pricing.books import import_prices, parse_prices
from chargeback.tenancy.scoping import within
from chargeback.usage.models import QuarantinedEvent
from chargeback.usage.validation import validate
from tests.usage.conftest import HEADER, event, ingest

OCT = Period.parse("2026-10")
NOV = Period.parse("2026-11")
# $1 per 1M input or output tokens: a unit's cost in dollars is its tokens in millions.
FLAT = HEADER + "internal,flat,2026-01-01,1,1,,,,,,USD,test price,2026-01-01\n"
WORKED_POLICY = {
    "effective_from": "2026-10",
    "tiers": [
        {"name": "Experimental", "up_to_tokens": 10_000_000, "markup": "0.50"},
        {"name": "Standard", "up_to_tokens": 100_000_000, "markup": "0.20"},
        {"name": "Enterprise", "up_to_tokens": None, "markup": "0.10"},
    ],
    "platform_fee": {"percent": "0.15", "fixed_per_unit": "0.00"},
}


def _flat_events(unit: str, millions: int, prefix: str, day: str = "2026-10-05") -> list[dict]:
    """`millions` million tokens for `unit` (team tag), in events of at most 50M input tokens."""
    out, left, i = [], millions * 1_000_000, 0
    while left:
        n = min(left, 50_000_000)
        out.append(
            event(
                f"{prefix}-{i}",
                occurred_at=f"{day}T10:00:00Z",
                provider="internal",
                model="flat",
                input_tokens=n,
                output_tokens=0,
                tags={"team": unit},
            )
        )
        left -= n
        i += 1
    return out


@pytest.fixture
def worked(priced_org):
    """SUP 5M tokens ($5), SALES 20M ($20), AGENT 150M ($150) in October; the DESIGN policy."""
    with within(priced_org):
        import_prices(priced_org, parse_prices(FLAT), actor="test", label="flat")
        save_policy(organization=priced_org, policy=parse_policy(WORKED_POLICY), actor="test")
    ingest(
        priced_org,
        _flat_events("SUP", 5, "sup")
        + _flat_events("SALES", 20, "sal")
        + _flat_events("AGENT", 150, "agt"),
    )
    return priced_org


def _lines(statement: Statement) -> list[tuple[str, Decimal]]:
    return [(x.kind, x.amount) for x in statement.lines.order_by("position")]


def test_worked_figures_tiers_and_platform_fee(worked):
    with within(worked):
        billing = draft_statements(worked, OCT)
        by_unit = {s.unit.code: s for s in billing.statements.all()}
        assert _lines(by_unit["SUP"]) == [
            ("usage", Decimal("5.00")),
            ("markup", Decimal("2.50")),
            ("platform_fee", Decimal("0.75")),
        ]
        assert by_unit["SUP"].tier == "Experimental"
        assert by_unit["SUP"].total == Decimal("8.25")
        assert by_unit["SALES"].tier == "Standard"
        assert by_unit["SALES"].total == Decimal("27.00")  # 20 + 4 + 3
        assert by_unit["AGENT"].tier == "Enterprise"
        assert by_unit["AGENT"].total == Decimal("187.50")  # 150 + 15 + 22.5
        for statement in by_unit.values():
            assert sum(a for _, a in _lines(statement)) == statement.total
            assert statement.status == "draft"
            assert statement.org_cost == Decimal("175")
        assert billing.usage_cost == Decimal("175")


def test_numbers_are_gapless_in_unit_order_and_regenerating_keeps_them(worked):
    with within(worked):
        billing = draft_statements(worked, OCT)
        numbers = list(billing.statements.order_by("sequence").values_list("number", "unit__code"))
        assert [n for n, _ in numbers] == [
            f"ALPHA-2026-10-{i:04d}" for i in range(1, len(numbers) + 1)
        ]
        assert [c for _, c in numbers] == sorted(c for _, c in numbers)
        again = draft_statements(worked, OCT)
        assert list(again.statements.order_by("sequence").values_list("number", "unit__code")) == (
            numbers
        )


def test_a_unit_without_usage_gets_no_statement_unless_all_units_pay_the_fixed_fee(worked):
    with within(worked):
        billing = draft_statements(worked, OCT)
        assert not billing.statements.filter(unit__code="OPS").exists()
        fee = {"percent": "0.15", "fixed_per_unit": "25.00"}
        save_policy(
            organization=worked,
            policy=parse_policy(dict(WORKED_POLICY, platform_fee=fee)),
            actor="test",
        )
        billing = draft_statements(worked, OCT)  # by default, only units with usage pay it
        assert not billing.statements.filter(unit__code="OPS").exists()
        sup = billing.statements.get(unit__code="SUP")
        assert ("platform_fee", Decimal("25.00")) in _lines(sup)
        assert sup.total == sum(x.amount for x in sup.lines.all())
        fee["fixed_to"] = "all_units"
        save_policy(
            organization=worked,
            policy=parse_policy(dict(WORKED_POLICY, platform_fee=fee)),
            actor="test",
        )
        billing = draft_statements(worked, OCT)
        ops = billing.statements.get(unit__code="OPS")
        assert _lines(ops) == [("platform_fee", Decimal("25.00"))]


def test_a_unit_archived_mid_month_is_still_billed(worked):
    with within(worked):
        sup = worked.units_map["SUP"]
        sup.archived = True
        sup.save()
        billing = draft_statements(worked, OCT)
        assert billing.statements.get(unit__code="SUP").total == Decimal("8.25")


def test_modes_follow_the_units_billing_mode(worked):
    with within(worked):
        sales = worked.units_map["SALES"]
        sales.billing_mode = "chargeback"
        sales.save()
        billing = draft_statements(worked, OCT)
        assert billing.statements.get(unit__code="SALES").mode == "chargeback"
        assert billing.statements.get(unit__code="SUP").mode == "showback"


def test_issue_sets_the_dispute_deadline_in_business_days_and_freezes(worked):
    with within(worked):
        draft_statements(worked, OCT)
        # Tuesday 22 December 2026 in Germany: 25 December is a holiday, 26-27 a weekend.
        billing = issue_statements(worked, OCT, today=dt.date(2026, 12, 22))
        assert billing.state == PeriodState.IN_REVIEW
        assert billing.dispute_deadline == dt.date(2026, 12, 30)
        statement = billing.statements.get(unit__code="SUP")
        assert statement.status == "issued"
        assert statement.dispute_deadline == dt.date(2026, 12, 30)
        assert verify(statement)
        statement.total = Decimal("1.00")
        with pytest.raises(ImmutableStatement):
            statement.save()
        with pytest.raises(ImmutableStatement):
            Statement.objects.get(pk=statement.pk).delete()
        with pytest.raises(CloseError, match="already issued"):
            issue_statements(worked, OCT)
        with pytest.raises(CloseError, match="already issued"):
            draft_statements(worked, OCT)


def test_issue_refuses_drafts_that_usage_has_overtaken(worked):
    with within(worked):
        draft_statements(worked, OCT)
        ingest(worked, _flat_events("SUP", 1, "late-before-issue"))
        with pytest.raises(CloseError, match="usage changed"):
            issue_statements(worked, OCT)
        draft_statements(worked, OCT)
        assert issue_statements(worked, OCT).state == PeriodState.IN_REVIEW


def test_issue_needs_drafts_and_close_needs_issue_and_happens_once(worked):
    with within(worked):
        with pytest.raises(CloseError, match="no draft statements"):
            issue_statements(worked, OCT)
        with pytest.raises(CloseError, match="not issued yet"):
            close_period(worked, OCT)
        draft_statements(worked, OCT)
        issued = issue_statements(worked, OCT)
        deadline = issued.dispute_deadline
        # The window is real: closing on or before the deadline is refused, with the date.
        with pytest.raises(CloseError, match=f"open until {deadline:%A %-d %B %Y}"):
            close_period(worked, OCT, today=deadline)
        with pytest.raises(CloseError, match="dispute window"):
            close_period(worked, OCT, override_reason="   ", today=deadline)
        assert BillingPeriod.objects.get(pk=issued.pk).state == PeriodState.IN_REVIEW
        billing = close_period(worked, OCT, today=deadline + dt.timedelta(days=1))
        assert billing.state == PeriodState.CLOSED and billing.close_override == ""
        assert billing.closed_by_label == "system"
        assert set(billing.statements.values_list("status", flat=True)) == {"final"}
        with pytest.raises(CloseError, match="already closed"):
            close_period(worked, OCT, override_reason="again")


def test_closing_early_needs_a_written_reason_and_is_audited(worked):
    with within(worked):
        draft_statements(worked, OCT)
        issued = issue_statements(worked, OCT)
        billing = close_period(
            worked, OCT, actor="lead@x", override_reason="  auditors need it today ",
            today=issued.dispute_deadline,
        )  # fmt: skip
        assert billing.state == PeriodState.CLOSED
        assert billing.close_override == "auditors need it today"
        event = AuditEvent.objects.get(action="billing.close_override")
        assert event.after["override_reason"] == "auditors need it today"
        assert list(event.after["overridden"]) == ["dispute_window"]
        assert not AuditEvent.objects.filter(action="billing.close").exists()


def test_late_events_become_an_adjustment_in_the_next_month(worked):
    with within(worked):
        draft_statements(worked, OCT)
        issued = issue_statements(worked, OCT)
        before = {s.number: (s.total, s.checksum) for s in issued.statements.all()}
        # 2M more tokens for SUP in October arrive after the issue: SUP stays Experimental,
        # so the late charge is 2 + 1 (50%) + 0.30 (15%) = 3.30.
        ingest(worked, _flat_events("SUP", 2, "late"))
        ingest(worked, _flat_events("SUP", 1, "nov", day="2026-11-04"))
        november = draft_statements(worked, NOV)
        sup = november.statements.get(unit__code="SUP")
        adjustment = sup.lines.get(kind="adjustment")
        assert adjustment.month == "2026-10"
        assert "2026-10" in adjustment.description
        assert adjustment.amount == Decimal("3.30")
        assert sup.total == Decimal("1.65") + Decimal("3.30")  # 1 + 0.5 + 0.15, plus the adjustment
        after = {s.number: (s.total, s.checksum) for s in Statement.objects.filter(period=issued)}
        assert after == before
        # Once December carries nothing new for October, no second adjustment appears.
        issue_statements(worked, NOV)
        december = draft_statements(worked, Period.parse("2026-12"))
        assert not StatementLine.objects.filter(
            statement__period=december, kind="adjustment"
        ).exists()


def test_activity_rate_from_outcome_counts_and_cost_per_outcome(worked):
    with within(worked):
        policy = dict(
            WORKED_POLICY,
            activity_rates=[{"unit": "SUP", "outcome": "resolved_ticket", "rate": "0.50"}],
        )
        save_policy(organization=worked, policy=parse_policy(policy), actor="test")
        OutcomeCount.objects.create(
            organization=worked,
            unit=worked.units_map["SUP"],
            month=OCT.first,
            outcome="resolved_ticket",
            count=40,
        )
        billing = draft_statements(worked, OCT)
        sup = billing.statements.get(unit__code="SUP")
        assert sup.total == Decimal("20.00")  # 40 x 0.50 instead of the usage charge
        assert sup.evidence["cost_per_outcome"] == [["resolved_ticket", "0.13"]]  # $5 / 40
        central = billing.statements.get(unit__code="CENTRAL")
        assert central.lines.filter(kind="activity", ref="SUP").get().amount == Decimal("-15.00")


def test_quarantined_events_of_the_month_are_warned_with_their_amount(worked):
    with within(worked):
        assert quarantine_warning(worked, OCT) is None
        ingest(worked, [event("q1", model="no-such-model", occurred_at="2026-10-09T08:00:00Z")])
        warning = quarantine_warning(worked, OCT)
        assert warning is not None and warning.count == 1 and warning.tokens == 1500
        assert "1 event for this month is still in quarantine" in str(warning)
        assert quarantine_warning(worked, NOV) is None


def test_quarantine_warning_reads_a_record_as_validation_does(worked):
    """A quarantined record in OpenTelemetry's names (gen_ai.* aliases, a Unix time in
    nanoseconds): the close's warning finds its month and tokens where validation does. Billing
    parsed the JSON itself before, found no `occurred_at` nor `input_tokens` and skipped it."""
    when = dt.datetime(2026, 10, 9, 8, 0, tzinfo=dt.UTC)
    record = {
        "request_id": "otel-1",
        "occurred_at_unix_nano": int(when.timestamp()) * 1_000_000_000,
        "gen_ai.system": "openai",
        "gen_ai.request.model": "no-such-model",
        "gen_ai.usage.input_tokens": 700,
        "input_tokens": 800,  # a plain field beats its alias
        "gen_ai.usage.output_tokens": 50,
    }
    ingest(worked, [record])
    with within(worked):
        stored = QuarantinedEvent.objects.get(organization=worked, request_id="otel-1")
        assert stored.reason == "no_price"
        draft = validate(json.loads(stored.raw), now=when + dt.timedelta(days=1))
        assert (draft.occurred_at, draft.input_tokens, draft.output_tokens) == (when, 800, 50)
        warning = quarantine_warning(worked, OCT)
        assert warning is not None
        assert (warning.count, warning.tokens) == (1, draft.input_tokens + draft.output_tokens)
        assert quarantine_warning(worked, NOV) is None


def test_checksum_detects_a_changed_line(worked):
    with within(worked):
        billing = draft_statements(worked, OCT)
        statement = billing.statements.get(unit__code="SALES")
        assert verify(statement)
        StatementLine.objects.filter(statement=statement, kind="markup").update(amount="4.01")
        assert not verify(statement)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_issued_statements_are_immutable_even_through_sql(worked):
    with within(worked):
        from django.db import transaction
        from django.db.utils import DatabaseError

        draft_statements(worked, OCT)
        billing = issue_statements(worked, OCT)
        statement = billing.statements.get(unit__code="SUP")
        for sql in (
            "UPDATE billing_statement SET total = 0 WHERE id = %s",
            "DELETE FROM billing_statement WHERE id = %s",
            "UPDATE billing_statementline SET amount = 0 WHERE statement_id = %s",
        ):
            with (
                pytest.raises(DatabaseError, match="immutable"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(sql, [statement.pk])
        Statement.objects.filter(pk=statement.pk).update(pdf_status="done")  # the PDF may be filled


def test_close_period_and_statements_commands(worked):
    out, err = io.StringIO(), io.StringIO()
    call_command("close_period", "--org", "alpha", "--period", "2026-10", stdout=out, stderr=err)
    assert "drafts only" in out.getvalue()
    out = io.StringIO()
    call_command(
        "statements", "--org", "alpha", "--period", "2026-10", "--format", "json", stdout=out
    )
    data = json.loads(out.getvalue())
    sup = next(s for s in data["statements"] if s["unit"] == "SUP")
    assert sup["number"].startswith("ALPHA-2026-10-")
    assert sup["mode"] == "showback" and sup["status"] == "draft"
    assert sup["total"] == "8.25"
    assert [(x["kind"], x["amount"]) for x in sup["lines"]] == [
        ("usage", "5.00"),
        ("markup", "2.50"),
        ("platform_fee", "0.75"),
    ]
    assert all({"kind", "description", "quantity", "amount"} <= set(x) for x in sup["lines"])
    out = io.StringIO()
    call_command("close_period", "--org", "alpha", "--period", "2026-10", "--issue", stdout=out)
    assert "issued" in out.getvalue()
    out = io.StringIO()
    call_command("statements", "--org", "alpha", "--period", "2026-10", stdout=out)
    assert "ALPHA-2026-10-0001" in out.getvalue() and "issued" in out.getvalue()
    with pytest.raises(CommandError, match="already issued"):
        call_command("close_period", "--org", "alpha", "--period", "2026-10", "--issue")
    with pytest.raises(CommandError, match="not a month"):
        call_command("close_period", "--org", "alpha", "--period", "October")
    cmd = ("close_period", "--org", "alpha", "--period", "2026-10")
    with pytest.raises(CommandError, match="dispute window of 2026-10 is open until"):
        call_command(*cmd, "--close")
    with pytest.raises(CommandError, match="--override-reason: only with --close"):
        call_command(*cmd, "--override-reason", "why")
    out = io.StringIO()
    call_command(*cmd, "--close", "--override-reason", "year-end audit", stdout=out)
    assert out.getvalue().strip() == (
        "closed 2026-10: 4 statement(s) final; closed early: year-end audit"
    )


def test_readme_pool_example_shares_sum_to_the_pool(worked):
    with within(worked):
        policy = dict(
            WORKED_POLICY,
            pools=[
                {
                    "name": "Gateway",
                    "source": "manual",
                    "amount": "1200.00",
                    "basis": "spend",
                    "targets": "all",
                }
            ],
        )
        save_policy(organization=worked, policy=parse_policy(policy), actor="test")
        billing = draft_statements(worked, OCT)
        shares = {
            line.statement.unit.code: line.amount
            for line in StatementLine.objects.filter(statement__period=billing, kind="pool")
        }
        assert shares == {
            "SUP": Decimal("34.29"),
            "SALES": Decimal("137.14"),
            "AGENT": Decimal("1028.57"),
        }
        assert sum(shares.values()) == Decimal("1200.00")


DEC = Period.parse("2026-12")
JAN_2 = dt.date(2027, 1, 2)


def test_late_usage_drafted_into_two_months_is_billed_once(worked):
    with within(worked):
        draft_statements(worked, OCT)
        issue_statements(worked, OCT, today=dt.date(2026, 11, 2))
        ingest(worked, _flat_events("SUP", 2, "late"))  # +3.30 for October, after its issue
        november = draft_statements(worked, NOV)
        december = draft_statements(worked, DEC)
        for period in (november, december):
            line = StatementLine.objects.get(statement__period=period, kind="adjustment")
            assert (line.month, line.amount) == ("2026-10", Decimal("3.30"))
        issue_statements(worked, NOV, today=dt.date(2026, 12, 2))
        # December's drafts still carry October's adjustment, which November now bills.
        with pytest.raises(CloseError, match="adjustments for earlier months changed"):
            issue_statements(worked, DEC, today=JAN_2)
        december = draft_statements(worked, DEC)
        assert not StatementLine.objects.filter(
            statement__period=december, kind="adjustment"
        ).exists()
        issue_statements(worked, DEC, today=JAN_2)
        billed = StatementLine.objects.filter(kind="adjustment", month="2026-10").aggregate(
            total=Sum("amount")
        )["total"]
        assert billed == Decimal("3.30")


def test_a_month_is_not_issued_before_it_is_over(worked):
    with within(worked):
        draft_statements(worked, OCT)
        with pytest.raises(CloseError, match="not over yet"):
            issue_statements(worked, OCT, today=dt.date(2026, 10, 31))
        assert issue_statements(worked, OCT, today=dt.date(2026, 11, 1)).state == "in_review"


def test_issue_refuses_drafts_older_than_the_policy_outcomes_or_units(worked):
    with within(worked):
        draft_statements(worked, OCT)
        save_policy(
            organization=worked,
            policy=parse_policy(dict(WORKED_POLICY, platform_fee={"percent": "0.10"})),
            actor="test",
        )
        with pytest.raises(CloseError, match="allocation policy in force for the month changed"):
            issue_statements(worked, OCT)
        draft_statements(worked, OCT)
        OutcomeCount.objects.create(
            organization=worked, unit=worked.units_map["SUP"], month=OCT.first, outcome="x", count=3
        )
        with pytest.raises(CloseError, match="outcome counts changed"):
            issue_statements(worked, OCT)
        draft_statements(worked, OCT)
        ops = worked.units_map["OPS"]
        ops.archived = True
        ops.save()
        with pytest.raises(CloseError, match="business units were added, archived"):
            issue_statements(worked, OCT)
        draft_statements(worked, OCT)
        assert issue_statements(worked, OCT).state == "in_review"


def test_a_late_rerun_bills_the_units_the_month_was_issued_to(worked):
    with within(worked):
        fee = {"percent": "0.15", "fixed_per_unit": "25.00", "fixed_to": "all_units"}
        policy = dict(WORKED_POLICY, platform_fee=fee)
        save_policy(organization=worked, policy=parse_policy(policy), actor="test")
        october = draft_statements(worked, OCT)
        assert _lines(october.statements.get(unit__code="OPS")) == [
            ("platform_fee", Decimal("25.00"))
        ]
        issue_statements(worked, OCT)
        ops = worked.units_map["OPS"]
        ops.archived = True  # after October was issued: its 25.00 fee stands
        ops.save()
        ingest(worked, _flat_events("SUP", 2, "late"))
        november = draft_statements(worked, NOV)
        adjustments = StatementLine.objects.filter(statement__period=november, kind="adjustment")
        assert [(x.statement.unit.code, x.amount) for x in adjustments] == [
            ("SUP", Decimal("3.30"))
        ]
        assert not november.statements.filter(unit__code="OPS").exists()


def test_reconciled_late_usage_is_not_rerun_by_later_drafts(worked, django_assert_max_num_queries):
    with within(worked):
        draft_statements(worked, OCT)
        issue_statements(worked, OCT)
        ingest(worked, _flat_events("SUP", 2, "late"))
        draft_statements(worked, NOV)
        issue_statements(worked, NOV)
        october = BillingPeriod.objects.get(organization=worked, month=OCT.first)
        assert (october.reconciled_cost, october.reconciled_requests) == (Decimal(177), 6)
        from chargeback.billing.late import late_adjustments

        with django_assert_max_num_queries(3):  # the issued months and their totals, no re-run
            assert late_adjustments(worked, DEC) == {}


def test_usage_arriving_while_a_month_is_issued_still_reaches_a_later_month(worked, monkeypatch):
    """Reconciled totals are those the issued adjustments were computed from, never a fresh
    read: an ingest that commits during the issue is billed by the next month."""
    with within(worked):
        from chargeback.billing import close

        draft_statements(worked, OCT)
        issue_statements(worked, OCT, today=dt.date(2026, 11, 2))
        ingest(worked, _flat_events("SUP", 2, "late1"))  # +3.30 for October
        draft_statements(worked, NOV)
        record = close.log.record

        def record_then_ingest(**kwargs):
            record(**kwargs)
            if kwargs.get("action") == "billing.issue":
                ingest(worked, _flat_events("SUP", 2, "late2"))

        monkeypatch.setattr(close.log, "record", record_then_ingest)
        issue_statements(worked, NOV, today=dt.date(2026, 12, 2))
        monkeypatch.setattr(close.log, "record", record)
        october = BillingPeriod.objects.get(organization=worked, month=OCT.first)
        assert (october.reconciled_cost, october.reconciled_requests) == (Decimal(177), 6)
        december = draft_statements(worked, DEC)
        line = StatementLine.objects.get(statement__period=december, kind="adjustment")
        assert (line.statement.unit.code, line.month, line.amount) == (
            "SUP",
            "2026-10",
            Decimal("3.30"),
        )


def test_late_unallocated_usage_stays_with_the_central_bucket_after_it_moved(worked):
    with within(worked):
        from chargeback.units.models import BusinessUnit

        draft_statements(worked, OCT)
        issue_statements(worked, OCT, today=dt.date(2026, 11, 2))
        BusinessUnit.objects.filter(organization=worked, is_central=True).update(is_central=False)
        BusinessUnit.objects.create(
            organization=worked, code="NEWC", name="New central", is_central=True
        )
        untagged = event(
            "late-unallocated",
            occurred_at="2026-10-05T10:00:00Z",
            provider="internal",
            model="flat",
            input_tokens=10_000_000,
            output_tokens=0,
            tags={},
        )
        ingest(worked, [untagged])  # attributed to NEWC, the central bucket now
        november = draft_statements(worked, NOV)
        lines = StatementLine.objects.filter(statement__period=november, kind="adjustment")
        # October's central bucket (CENTRAL) carries it at cost, as October would have
        assert [(x.statement.unit.code, x.amount) for x in lines] == [("CENTRAL", Decimal("10.00"))]


def test_drafts_made_before_the_checks_existed_must_be_regenerated(worked):
    with within(worked):
        billing = draft_statements(worked, OCT)
        BillingPeriod.objects.filter(pk=billing.pk).update(inputs={})
        with pytest.raises(CloseError, match="generated before these checks existed"):
            issue_statements(worked, OCT)
