"""Poison records (issue 15, finding 1): a record that would break the pipeline instead of
failing validation goes to the quarantine alone, with its reason, and its batch goes on."""

from __future__ import annotations

import json

import pytest

from chargeback.tenancy.scoping import within
from chargeback.usage.models import QuarantinedEvent
from tests.usage.conftest import event, ingest

SURROGATE = '{"request_id": "s-\\ud800", "occurred_at": "2026-10-03T14:22:05Z", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1, "output_tokens": 1}'
OVERFLOW = json.dumps(event("overflow", occurred_at="0001-01-01T00:00:00+14:00"))
DIGITS = json.dumps(event("digits")).replace(
    '"input_tokens": 1200', '"input_tokens": ' + "9" * 5000
)
DEEP = '{"request_id": "deep", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
POISON = {
    "surrogate": (SURROGATE, "request_id", "string: lone surrogate"),
    "overflow": (OVERFLOW, "occurred_at", "out of range"),
    "digits": (DIGITS, "input_tokens", "too many digits (5000)"),
    "deep": (DEEP, "record", "nested too deep"),
}


def reasons(org) -> list[tuple[str, str]]:
    with within(org):
        rows = QuarantinedEvent.objects.filter(organization=org).order_by("line")
        return [(r["field"], r["problem"]) for q in rows for r in q.reasons]


@pytest.mark.parametrize("name", list(POISON))
def test_a_poison_record_is_quarantined_alone_and_the_batch_goes_on(priced_org, name):
    line, field, problem = POISON[name]
    batch = ingest(priced_org, [event("ok-1"), line, event("ok-2")])
    assert (batch.status, batch.received, batch.accepted, batch.quarantined) == ("done", 3, 2, 1)
    assert batch.error == ""
    [(got_field, got_problem)] = reasons(priced_org)
    assert got_field == field and got_problem.startswith(problem)


def test_all_four_in_one_batch_in_a_json_document_too(priced_org):
    lines = [event("ok-1"), *(p[0] for p in POISON.values()), event("ok-2")]
    batch = ingest(priced_org, lines)
    assert (batch.status, batch.received, batch.accepted, batch.quarantined) == ("done", 6, 2, 4)
    doc = "[" + ",".join(json.dumps(event(f"j-{i}")) for i in range(2))
    doc += "," + SURROGATE + "," + OVERFLOW + "," + DIGITS + "]"
    batch = ingest(priced_org, doc.encode(), fmt="json")
    assert (batch.status, batch.received, batch.accepted, batch.quarantined) == ("done", 5, 2, 3)


def test_a_csv_cell_beyond_the_field_limit_is_one_record(priced_org):
    header = "request_id,occurred_at,provider,model,input_tokens,output_tokens\n"
    ok = "c-{n},2026-10-03T14:22:05Z,openai,gpt-4o-mini,10,5\n"
    text = header + ok.format(n=1) + "big," + "x" * 200_000 + ",openai,m,1,1\n" + ok.format(n=2)
    batch = ingest(priced_org, text.encode(), fmt="csv")
    assert (batch.status, batch.received, batch.accepted, batch.quarantined) == ("done", 3, 2, 1)
    [(field, problem)] = reasons(priced_org)
    assert field == "record" and "field larger than field limit" in problem


def test_a_blank_csv_row_is_skipped_not_six_errors(priced_org):
    header = "request_id,occurred_at,provider,model,input_tokens,output_tokens\n"
    ok = "c-{n},2026-10-03T14:22:05Z,openai,gpt-4o-mini,10,5\n"
    text = header + ok.format(n=1) + ",,,,,\n" + " , ,,,,\n" + "\n" + ok.format(n=2)
    batch = ingest(priced_org, text.encode(), fmt="csv")
    assert (batch.status, batch.received, batch.accepted, batch.quarantined) == ("done", 2, 2, 0)
    assert reasons(priced_org) == []
