import datetime as dt

import pytest

from chargeback.usage.validation import Draft, validate

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
OK = {
    "request_id": "r1",
    "occurred_at": "2026-10-03T14:22:05+02:00",
    "provider": "OpenAI",
    "model": "gpt-4o",
    "input_tokens": 10,
    "output_tokens": 5,
}


def reasons(record, **kw):  # noqa: ANN001, ANN003, ANN201
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
        ({"input_tokens": -5}, [("input_tokens", "bad_tokens")]),
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
