"""The evidence behind a disputed line, with known answers: SUP's October usage (all
internal/flat at $1 per million tokens) is its $5.00 from the worked example, plus a
summarizer (3 requests of 1M tokens and 25 retries of 100k, 10 of them failed, within one
hour), a chat service request of 2M and an untagged request of 0.5M that only the central
bucket's fallback owns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django_scopes import scopes_disabled

from chargeback.billing.close import draft_statements, issue_statements
from chargeback.billing.models import Statement
from chargeback.disputes import operations as ops
from chargeback.disputes.evidence import Storm, evidence_for
from chargeback.tenancy.models import Role
from chargeback.tenancy.scoping import within
from chargeback.units.models import BusinessUnit
from tests.disputes.conftest import ISSUED_ON, OCT, member
from tests.usage.conftest import event, ingest

FLAT = {"provider": "internal", "model": "flat", "output_tokens": 0}


def _sup(rid, tokens, **kw):
    tags = {"team": "SUP", **kw.pop("tags", {})}
    return event(rid, input_tokens=tokens, tags=tags, **FLAT, **kw)


@pytest.fixture
def evidenced(worked):
    events = [
        _sup(f"sum-root-{i}", 1_000_000, occurred_at=f"2026-10-12T08:0{i}:00Z",
             tags={"service": "summarizer", "workflow": "digest"})
        for i in range(3)
    ] + [
        _sup(f"sum-retry-{i:02d}", 100_000, occurred_at=f"2026-10-12T09:{i * 2:02d}:00Z",
             retry_of="sum-root-0", attempt=2, status_code=500 if i < 10 else 200,
             tags={"service": "summarizer", "workflow": "digest"})
        for i in range(25)
    ] + [
        _sup("chat-0", 2_000_000, occurred_at="2026-10-20T10:00:00Z", tags={"service": "chat"}),
        event("orphan-0", input_tokens=500_000, occurred_at="2026-10-21T10:00:00Z", **FLAT),
    ]  # fmt: skip
    ingest(worked, events)
    with scopes_disabled():
        BusinessUnit.objects.filter(organization=worked, code="SUP").update(
            billing_mode="chargeback"
        )
    with within(worked):
        draft_statements(worked, OCT)
        issue_statements(worked, OCT, today=ISSUED_ON)
    return worked


def test_the_evidence_behind_a_usage_line(evidenced):
    with scopes_disabled():
        sup = BusinessUnit.objects.get(organization=evidenced, code="SUP")
    lead = member(evidenced, Role.TEAM_LEAD, "sup@alpha.example", [sup])
    with within(evidenced):
        st = Statement.objects.get(unit=sup)
        usage = st.lines.get(kind="usage")
        d = ops.open_dispute(
            membership=lead, statement=st, amount="2.50", reason="retry_storm",
            description="a loop", line_ids=[usage.pk], today=ISSUED_ON,
            request_ids=["sum-retry-03", "nope"],
        )  # fmt: skip
        ev = evidence_for(d)
    d2 = Decimal
    assert ev.scope == "internal/flat in October 2026"
    assert (ev.cost, ev.requests) == (d2("12.5"), 30)
    assert ev.services == [("summarizer", d2("5.5")), ("(no service)", d2("5")), ("chat", d2("2"))]
    assert ev.workflows == [("(no workflow)", d2("7")), ("digest", d2("5.5"))]
    assert ev.models == [("internal/flat", d2("12.5"))]
    assert ev.top_requests[:2] == [("sup-0", d2("5")), ("chat-0", d2("2"))]
    assert ev.named == [("sum-retry-03", d2("0.1")), ("nope", None)]
    assert (ev.retries, ev.retry_cost) == (25, d2("2.5"))
    tz = evidenced.tz
    assert ev.storms == [
        Storm(hour=dt.datetime(2026, 10, 12, 11, tzinfo=tz), service="summarizer",
              workflow="digest", model="internal/flat", retries=25, failed=10, cost=d2("2.5"))
    ]  # fmt: skip
    assert ev.unallocated == 0


def test_unallocated_spend_on_the_central_buckets_statement(evidenced):
    with scopes_disabled():
        fin = member(evidenced, Role.FINANCE, "fin@alpha.example")
    with within(evidenced):
        st = Statement.objects.get(unit__is_central=True)
        d = ops.open_dispute(
            membership=fin, statement=st, amount="0.01", reason="tags",
            description="whose is it", today=ISSUED_ON,
        )  # fmt: skip
        ev = evidence_for(d)
    assert (ev.unallocated, ev.unallocated_requests) == (Decimal("0.5"), 1)
    assert ev.storms == [] and ev.retries == 0


def test_the_dispute_page_shows_the_evidence(evidenced, client_for):
    with scopes_disabled():
        sup = BusinessUnit.objects.get(organization=evidenced, code="SUP")
    lead = member(evidenced, Role.TEAM_LEAD, "sup@alpha.example", [sup])
    with within(evidenced):
        st = Statement.objects.get(unit=sup)
        d = ops.open_dispute(
            membership=lead, statement=st, amount="1.00", reason="retry_storm",
            description="a loop", today=ISSUED_ON,
        )  # fmt: skip
    page = client_for(lead).get(f"/o/{evidenced.slug}/disputes/{d.pk}/").content.decode()
    assert "Behind the charge" in page and "all of SUP&#x27;s usage in October 2026" in page
    assert (
        "2026-10-12 11:00" in page and "summarizer" in page and "<code>sup-0</code> $5.00" in page
    )
