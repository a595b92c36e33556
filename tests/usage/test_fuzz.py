"""Hostile records through the whole pipeline (issue 15, finding 1): whatever a batch holds
(random JSON, odd strings with lone surrogates and NULs, huge integers, deep nesting, wrong
types, the four poison records), it finishes `done` with received = accepted + duplicates +
quarantined, and `ingest_events` exits 0 with those counts."""

from __future__ import annotations

import io
import json
import re

from django.core.management import call_command
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chargeback.tenancy.scoping import within
from chargeback.usage.ingest import create_batch, process_batch
from tests.usage.conftest import event
from tests.usage.test_poison import POISON

HUGE = "HUGE_INTEGER"  # replaced in the text by an integer literal of thousands of digits

odd_text = st.text(st.characters(codec=None, categories=None), max_size=20) | st.sampled_from(
    ["\ud800", "\udfff", "\x00", "\t\n\\", "0001-01-01T00:00:00+14:00", "9" * 30, "", " "]
)
scalars = (
    st.none() | st.booleans() | odd_text
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False) | st.just(HUGE)
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(odd_text, children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "request_id", "occurred_at", "provider", "model", "input_tokens", "output_tokens",
    "cached_input_tokens", "reasoning_tokens", "status_code", "batch", "tags", "attempt",
    "gateway_key_id", "occurred_at_unix_nano",
]  # fmt: skip
damaged = st.builds(
    lambda rid, changes: {**event(rid), **changes},
    st.sampled_from(["h1", "h2", "h3"]) | odd_text,
    st.dictionaries(st.sampled_from(FIELDS) | odd_text, values, max_size=3),
)


def dumped(value) -> str:
    return json.dumps(value).replace(f'"{HUGE}"', "7" * 5000)


def line_of(record) -> str:
    return record if isinstance(record, str) else dumped(record)


lines = st.lists(
    st.one_of(
        damaged,
        values,
        st.sampled_from([p[0] for p in POISON.values()]),
        st.sampled_from(["{bad", "[]", "null", '"x"', "{" * 3000 + "}" * 3000]),
        st.just(event("ok")),
    ).map(line_of),
    min_size=1,
    max_size=12,
)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def records_in(text: str) -> int:
    """NDJSON records as the pipeline counts them: lines of the UTF-8 bytes that hold more
    than ASCII whitespace (a line of control characters, "\x1f", is a record it quarantines,
    though Python's str.strip() would call it blank)."""
    data = text.encode("utf-8", "surrogatepass")
    return sum(1 for line in data.split(b"\n") if line.strip())


@FUZZ
@given(batch_lines=lines)
@example(batch_lines=["\x1f"])  # found by this test: kept, quarantined, counted
def test_any_batch_finishes_and_its_counts_add_up(priced_org, batch_lines):
    text = "\n".join(batch_lines) + "\n"
    with within(priced_org):
        batch = create_batch(
            organization=priced_org, payload=text.encode("utf-8", "surrogatepass"),
            fmt="ndjson", source="test",
        )  # fmt: skip
    batch = process_batch(batch.pk)
    assert batch.status == "done", batch.error
    assert batch.received == batch.accepted + batch.duplicates + batch.quarantined
    assert batch.received == records_in(text)


@FUZZ
@given(items=st.lists(st.one_of(damaged, values), min_size=1, max_size=8))
def test_any_json_document_finishes_and_its_counts_add_up(priced_org, items):
    text = "[" + ",".join(dumped(i) for i in items) + "]"
    with within(priced_org):
        batch = create_batch(
            organization=priced_org, payload=text.encode(), fmt="json", source="test"
        )
    batch = process_batch(batch.pk)
    assert batch.status == "done", batch.error
    assert batch.received == len(items)
    assert batch.received == batch.accepted + batch.duplicates + batch.quarantined


@settings(
    max_examples=10,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(batch_lines=lines)
def test_ingest_events_exits_0_with_counts_that_add_up(priced_org, tmp_path, batch_lines):
    path = tmp_path / "events.ndjson"
    text = "\n".join([*batch_lines, *(p[0] for p in POISON.values())]) + "\n"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    out = io.StringIO()
    call_command("ingest_events", str(path), "--org", priced_org.slug, stdout=out)
    counts = dict(re.findall(r"(\w+)=(\d+)", out.getvalue()))
    received, accepted, duplicates, quarantined = (
        int(counts[k]) for k in ("received", "accepted", "duplicates", "quarantined")
    )
    assert received == accepted + duplicates + quarantined == records_in(text)
    assert quarantined >= len(POISON)
