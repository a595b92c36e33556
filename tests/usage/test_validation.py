import datetime as dt
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargeback.usage.records import read_stored
from chargeback.usage.validation import (
    ALIASES,
    TOKEN_FIELDS,
    Draft,
    _validate_any,
    _well_formed,
    validate,
)

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
OK = {
    "request_id": "r1",
    "occurred_at": "2026-10-03T14:22:05+02:00",
    "provider": "OpenAI",
    "model": "gpt-4o",
    "input_tokens": 10,
    "output_tokens": 5,
}


def reasons(record, **kw):
    result = validate(record, now=NOW, **kw)
    assert isinstance(result, list), result
    return [(r.field, r.code) for r in result]


def test_valid_record_is_normalised():
    draft = validate({**OK, "tags": {"team": "SUP"}, "status_code": 429}, now=NOW)
    assert isinstance(draft, Draft)
    assert draft.provider == "openai"
    assert draft.occurred_at == dt.datetime(2026, 10, 3, 12, 22, 5, tzinfo=dt.UTC)
    assert draft.is_error is True and draft.tags == {"team": "SUP"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"request_id": None}, [("request_id", "missing_field")]),
        ({"occurred_at": "2026-10-03T14:22:05"}, [("occurred_at", "bad_timestamp")]),
        ({"occurred_at": "yesterday"}, [("occurred_at", "bad_timestamp")]),
        ({"occurred_at": "2027-01-01T00:00:00Z"}, [("occurred_at", "future_timestamp")]),
        ({"provider": ""}, [("provider", "missing_field")]),
        ({"model": None}, [("model", "missing_field")]),
        ({"input_tokens": -5}, [("input_tokens", "negative_tokens")]),
        ({"input_tokens": "12x"}, [("input_tokens", "bad_type")]),
        ({"output_tokens": 10**12}, [("output_tokens", "bad_tokens")]),
        ({"input_tokens": True}, [("input_tokens", "bad_type")]),
        ({"cached_input_tokens": 11}, [("cached_input_tokens", "bad_tokens")]),
        ({"reasoning_tokens": 6}, [("reasoning_tokens", "bad_tokens")]),
        ({"status_code": 999}, [("status_code", "bad_value")]),
        ({"tags": "team=x"}, [("tags", "bad_type")]),
        ({"tags": {"colour": "red"}}, [("tags.colour", "unknown_field")]),
        ({"prompt": "hello"}, [("prompt", "unknown_field")]),
        ({"batch": "maybe"}, [("batch", "bad_type")]),
    ],
)
def test_each_reason_names_the_field(change, expected):
    assert reasons({**OK, **change}) == expected


def test_production_traffic_needs_required_tags():
    record = {**OK, "tags": {"environment": "production", "team": "SUP"}}
    assert reasons(record, required_tags=["team", "service", "cost_center", "environment"]) == [
        ("tags.service", "missing_tag")
    ]
    staging = {**OK, "tags": {"environment": "staging"}}
    assert isinstance(validate(staging, now=NOW, required_tags=["team"]), Draft)


def test_gateway_key_implies_service_and_environment():
    record = {**OK, "gateway_key_id": "gk-1", "tags": {"team": "SUP", "cost_center": "CC-1"}}
    draft = validate(
        record,
        now=NOW,
        required_tags=["team", "service", "cost_center", "environment"],
        key_defaults={"gk-1": {"service": "bot", "environment": "production"}},
    )
    assert isinstance(draft, Draft) and draft.tags["service"] == "bot"


def test_opentelemetry_aliases():
    record = {
        "request_id": "r9",
        "occurred_at": "2026-10-03T14:22:05Z",
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4",
        "gen_ai.response.model": "claude-sonnet-4-20250514",
        "gen_ai.response.id": "msg_1",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 10,
        "gen_ai.usage.cache_read.input_tokens": 600,
        "gen_ai.usage.cache_creation.input_tokens": 100,
    }
    draft = validate(record, now=NOW)
    assert (draft.provider, draft.model_raw, draft.provider_response_id) == (
        "anthropic",
        "claude-sonnet-4-20250514",
        "msg_1",
    )
    assert (draft.input_tokens, draft.cached_input_tokens, draft.cache_write_input_tokens) == (
        1000,
        600,
        100,
    )
    assert (
        validate({**record, "gen_ai.provider.name": "aws.bedrock"}, now=NOW).provider
        == "aws.bedrock"
    )


def test_fingerprint_tells_repeats_from_conflicts():
    a = validate(OK, now=NOW)
    assert a.fingerprint == validate({**OK, "tags": {"team": "x"}}, now=NOW).fingerprint
    assert a.fingerprint != validate({**OK, "output_tokens": 6}, now=NOW).fingerprint


# The fast path for well-formed records must agree with the full validation on every record:
# records made of valid values (edge cases included), then sometimes spoilt by a few bad ones.
TEXT_BAD = [None, "", 5, True, 1.5, ["a"], {"a": 1}, "x" * 201]
TOKENS_GOOD, TOKENS_BAD = [0, 1, 10, 5000, 10**8], [None, "", -1, 10**8 + 1, "12", True, 2.0]
GOOD = {
    "request_id": ["r1", " r2 ", "x" * 200, "  "],
    "occurred_at": [
        "2026-10-03T14:22:05Z",
        "2026-10-03T14:22:05z",
        " 2026-10-03T14:22:05+02:00 ",
        "2026-11-01T00:15:00Z",
    ],
    "provider": ["OpenAI", " anthropic ", "x" * 60],
    "model": ["gpt-4o", " GPT-4o ", "x" * 200],
    "input_tokens": TOKENS_GOOD,
    "output_tokens": TOKENS_GOOD,
}
OPTIONAL_GOOD = {
    "cached_input_tokens": TOKENS_GOOD,
    "cache_write_input_tokens": TOKENS_GOOD,
    "reasoning_tokens": TOKENS_GOOD,
    "batch": [True, False],
    "is_error": [True, False],
    "status_code": [None, 100, 200, 429, 599],
    "attempt": [None, 0, 1, 3],
    "gateway_key_id": [None, "", "gk-1", " gk-1 ", "x", "gk-2"],
    "retry_of": [None, "", "r0", "x" * 200],
    "user_ref": [None, "u1"],
    "provider_response_id": [None, "p1"],
    "provider_account": [None, "acct"],
    "tags": [
        None,
        {},
        {"team": "SUP"},
        {"team": " SUP ", "environment": "production"},
        {"environment": "production", "team": "S", "service": "s", "cost_center": "c"},
        {"environment": "production", "team": "S", "cost_center": "c"},
        {"workflow": "x" * 250, "service": ""},
        {"team": None},
    ],
}
BAD = {
    **dict.fromkeys(("request_id", "model", "gateway_key_id", "retry_of", "user_ref"), TEXT_BAD),
    "provider": [*TEXT_BAD, "x" * 61],
    "occurred_at": [None, "", "2026-10-03T14:22:05", "2026-11-01T00:15:01Z", "yesterday", 17, "2026-10-03T142205.5Z", "2026-10-03T14:22:0Z"],
    **dict.fromkeys(TOKEN_FIELDS, TOKENS_BAD),
    "batch": [None, "yes", 1, "maybe"],
    "is_error": [None, "yes", 1, "maybe"],
    "status_code": ["", 0, 99, 600, "200", True, 2.0],
    "attempt": ["", -1, "2", True, 1.5],
    "tags": ["", "team=x", [], {"colour": "red"}, {"team": 5}, {"team": True}, {"team": ["a"]}],
    "team": ["SUP", 5],
    "occurred_at_unix_nano": [1_790_000_000_000_000_000, "x"],
    "gen_ai.system": ["anthropic"],
    "colour": ["red"],
}  # fmt: skip
RECORDS = st.fixed_dictionaries(
    {k: st.sampled_from(v) for k, v in GOOD.items()},
    optional={k: st.sampled_from(v) for k, v in OPTIONAL_GOOD.items()},
)
SPOILERS = st.lists(
    st.sampled_from(sorted(BAD)).flatmap(lambda k: st.tuples(st.just(k), st.sampled_from(BAD[k]))),
    max_size=2,
)


DEFAULTS = {"gk-1": {"service": "bot", "environment": "production"}, "x": {"service": ""}}
REQUIRED = [(), ("team",), ("team", "service", "cost_center")]


def agree(record: dict, required: tuple) -> None:
    options = {"now": NOW, "required_tags": required, "key_defaults": DEFAULTS}
    fast, full = validate(record, **options), _validate_any(record, **options)
    assert fast == full, record
    if isinstance(full, Draft):
        assert fast.fingerprint == full.fingerprint
        assert fast.occurred_iso == full.occurred_iso == full.occurred_at.isoformat()


@pytest.mark.parametrize("required", REQUIRED)
def test_the_fast_path_agrees_with_full_validation_field_by_field(required):
    bases = [
        OK,
        {**OK, "gateway_key_id": "gk-1", "tags": {"team": "S", "cost_center": "c"}},
        {**OK, "tags": {"environment": "production", "team": "S", "service": "s"}},
        {**OK, "gateway_key_id": "gk-1", "tags": {"service": "s", "cost_center": "c"}},
    ]
    for base in bases:
        for name in sorted({*GOOD, *OPTIONAL_GOOD, *BAD}):
            for value in [*GOOD.get(name, []), *OPTIONAL_GOOD.get(name, []), *BAD.get(name, [])]:
                agree({**base, name: value}, required)
            agree({k: v for k, v in base.items() if k != name}, required)


@settings(max_examples=500, deadline=None)
@given(record=RECORDS, spoilers=SPOILERS, required=st.sampled_from(REQUIRED))
def test_the_fast_path_agrees_with_full_validation(record, spoilers, required):
    agree({**record, **dict(spoilers)}, required)


def test_the_fast_path_is_taken_for_well_formed_records():
    record = {**OK, "tags": {"team": "SUP", "environment": "production"}, "batch": True}
    draft = _well_formed(record, NOW, ("team",), None)
    assert draft is not None
    assert draft == _validate_any(record, now=NOW, required_tags=("team",))
    assert draft.fingerprint == _validate_any(record, now=NOW).fingerprint


def test_the_fingerprint_is_the_sha1_of_the_usage_tuple_repr():
    draft = validate({**OK, "batch": True, "cached_input_tokens": 3}, now=NOW)
    parts = ("2026-10-03T12:22:05+00:00", "openai", "gpt-4o", 10, 5, 3, 0, 0, True)
    expected = hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()
    assert draft.fingerprint == expected
    assert _validate_any({**OK, "batch": True, "cached_input_tokens": 3}, now=NOW).fingerprint == (
        expected
    )


# (alias, field): the OpenTelemetry name a record may use instead of the plain one
RENAMES = st.lists(st.sampled_from(sorted(ALIASES.items())), max_size=4)


@settings(max_examples=300, deadline=None)
@given(record=RECORDS, spoilers=SPOILERS, renames=RENAMES)
def test_a_stored_record_is_read_as_validation_reads_it(record, spoilers, renames):
    """`records.read_stored` (how billing reads a quarantined record) finds the time and the
    token counts validation finds, aliases included."""
    record = {**record, **dict(spoilers)}
    for alias, name in renames:
        if name in record:
            record[alias] = record.pop(name)
    draft = validate(record, now=NOW)
    stored = read_stored(json.dumps(record))
    if isinstance(draft, Draft):
        assert (stored.occurred_at, stored.input_tokens, stored.output_tokens) == (
            draft.occurred_at,
            draft.input_tokens,
            draft.output_tokens,
        )


def test_a_stored_record_that_is_not_a_json_object_has_no_time_nor_tokens():
    for raw in ("{not json", "[1, 2]", "", '"text"'):
        stored = read_stored(raw)
        assert (stored.occurred_at, stored.input_tokens, stored.output_tokens) == (None, 0, 0)
