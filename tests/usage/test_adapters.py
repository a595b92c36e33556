"""Each adapter, proven on a real-shaped record: token classes end up in our convention."""

import io
import json
from decimal import Decimal

from chargeback.tenancy.scoping import within
from chargeback.usage.models import QuarantinedEvent, UsageEvent
from chargeback.usage.records import read_records
from tests.usage.conftest import ingest

# A span as the OpenTelemetry GenAI instrumentation for Anthropic exports it (OTLP/JSON).
OTLP = {
    "resourceSpans": [
        {
            "resource": {
                "attributes": [{"key": "service.name", "value": {"stringValue": "reply-drafter"}}]
            },
            "scopeSpans": [
                {
                    "scope": {"name": "opentelemetry.instrumentation.anthropic"},
                    "spans": [
                        {
                            "traceId": "5b8efff798038103d269b633813fc60c",
                            "spanId": "eee19b7ec3c1b174",
                            "name": "chat claude-sonnet-4-20250514",
                            "startTimeUnixNano": "1759501325000000000",
                            "endTimeUnixNano": "1759501327000000000",
                            "attributes": [
                                {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                                {"key": "gen_ai.system", "value": {"stringValue": "anthropic"}},
                                {
                                    "key": "gen_ai.request.model",
                                    "value": {"stringValue": "claude-sonnet-4"},
                                },
                                {
                                    "key": "gen_ai.response.model",
                                    "value": {"stringValue": "claude-sonnet-4-20250514"},
                                },
                                {
                                    "key": "gen_ai.response.id",
                                    "value": {"stringValue": "msg_01XFDUDYJgAACzvnptvVoYEL"},
                                },
                                {
                                    "key": "gen_ai.usage.input_tokens",
                                    "value": {"intValue": "10000"},
                                },
                                {
                                    "key": "gen_ai.usage.output_tokens",
                                    "value": {"intValue": "1000"},
                                },
                                {
                                    "key": "gen_ai.usage.cache_read.input_tokens",
                                    "value": {"intValue": "6000"},
                                },
                                {
                                    "key": "gen_ai.usage.cache_creation.input_tokens",
                                    "value": {"intValue": "2000"},
                                },
                            ],
                        },
                        {"spanId": "0000000000000001", "name": "db query", "attributes": []},
                    ],
                }
            ],
        }
    ]
}

# A row of LiteLLM's /spend/logs (LiteLLM_SpendLogs), Anthropic through the proxy.
LITELLM = [
    {
        "request_id": "chatcmpl-8f2c41b0-7e0f-4b0e-9d0a-2c3b1d1d9a11",
        "call_type": "acompletion",
        "api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
        "spend": 0.0303,
        "total_tokens": 11000,
        "prompt_tokens": 10000,
        "completion_tokens": 1000,
        "startTime": "2025-10-03T14:22:05.123000",
        "endTime": "2025-10-03T14:22:07.456000",
        "model": "claude-sonnet-4-20250514",
        "model_group": "claude-sonnet",
        "custom_llm_provider": "anthropic",
        "user": "u-42",
        "team_id": "7d5c1a",
        "status": "success",
        "metadata": {
            "user_api_key_alias": "gk-support-auto",
            "user_api_key_team_alias": "SUP",
            "additional_usage_values": {
                "cache_read_input_tokens": 6000,
                "cache_creation_input_tokens": 2000,
            },
        },
    }
]
# Sonnet 4: input 3, output 15, cache read 0.30, cache write 3.75 per 1M:
# 2,000 plain x 3 + 6,000 x 0.30 + 2,000 x 3.75 + 1,000 x 15 = 0.0303
EXPECTED = Decimal("0.030300000000")


def test_otlp_adapter(priced_org):
    records = list(read_records(io.BytesIO(json.dumps(OTLP).encode()), "otel"))
    assert len(records) == 1
    batch = ingest(priced_org, json.dumps(OTLP).encode(), fmt="otel")
    assert (batch.received, batch.accepted) == (1, 1)
    with within(priced_org):
        e = UsageEvent.objects.get(organization=priced_org)
    assert (e.request_id, e.provider, e.model, e.model_raw) == (
        "msg_01XFDUDYJgAACzvnptvVoYEL", "anthropic", "claude-sonnet-4", "claude-sonnet-4-20250514",
    )  # fmt: skip
    assert (e.input_tokens, e.cached_input_tokens, e.cache_write_input_tokens, e.output_tokens) == (
        10000,
        6000,
        2000,
        1000,
    )
    assert e.occurred_at.isoformat() == "2025-10-03T14:22:05+00:00"
    assert e.cost == EXPECTED


def test_litellm_adapter(priced_org):
    from tests import factories as f

    f.GatewayKeyFactory(
        organization=priced_org,
        key_id="gk-support-auto",
        unit=priced_org.units_map["SALES"],
        environment="staging",
    )
    batch = ingest(priced_org, json.dumps(LITELLM).encode(), fmt="litellm")
    assert (batch.received, batch.accepted, batch.quarantined) == (1, 1, 0)
    with within(priced_org):
        e = UsageEvent.objects.get(organization=priced_org)
    assert (e.provider, e.model, e.gateway_key_id, e.user_ref) == (
        "anthropic",
        "claude-sonnet-4",
        "gk-support-auto",
        "u-42",
    )
    assert (e.input_tokens, e.cached_input_tokens, e.cache_write_input_tokens, e.output_tokens) == (
        10000,
        6000,
        2000,
        1000,
    )
    assert (e.unit.code, e.attribution) == ("SUP", "team_tag")
    assert e.occurred_at.isoformat() == "2025-10-03T14:22:05.123000+00:00"
    assert e.cost == EXPECTED


def test_csv_adapter_tags(priced_org):
    payload = (
        b"request_id,occurred_at,provider,model,input_tokens,output_tokens,cached_input_tokens,team,service,cost_center,environment,workflow\n"
        b"csv-1,2026-10-03T14:22:05Z,openai,gpt-4o-mini-2024-07-18,1200,300,200,SALES,lead-scoring,CC-1,staging,triage\n"
    )
    batch = ingest(priced_org, payload, fmt="csv")
    assert (batch.received, batch.accepted) == (1, 1)
    with within(priced_org):
        e = UsageEvent.objects.get(organization=priced_org)
    assert (e.team, e.service, e.cost_center, e.environment, e.workflow) == (
        "SALES",
        "lead-scoring",
        "CC-1",
        "staging",
        "triage",
    )
    # 1,000 x 0.15 + 200 x 0.075 + 300 x 0.60 per 1M
    assert e.cost == Decimal("0.000345000000")


def test_byte_order_marks_are_ignored(priced_org):
    bom = b"\xef\xbb\xbf"
    csv_batch = ingest(
        priced_org,
        bom
        + b"request_id,occurred_at,provider,model,input_tokens,output_tokens\nb1,2026-10-03T14:22:05Z,openai,gpt-4o-mini,10,1\n",
        fmt="csv",
    )
    nd_batch = ingest(
        priced_org,
        bom
        + b'{"request_id":"b2","occurred_at":"2026-10-03T14:22:05Z","provider":"openai","model":"gpt-4o-mini","input_tokens":10,"output_tokens":1}\n',
        fmt="ndjson",
    )
    assert (csv_batch.status, csv_batch.accepted, nd_batch.accepted) == ("done", 1, 1)


def test_ndjson_reads_what_the_json_module_reads():
    lines = [
        b'{"a": 123456789012345678901234567890, "b": [1, {"c": 99999999999999999999}]}',
        b'{"a": -9223372036854775809, "b": 1.5, "c": NaN, "d": Infinity, "e": 1e400}',
        b'{"a": "\\ud800", "b": "\\u00e9", "a": 2}',
        b'{"request_id": "r1", "tags": {"team": "SUP"}, "input_tokens": 10}',
    ]
    records = list(read_records(io.BytesIO(b"\n".join(lines)), "ndjson"))
    expected = [(n, json.loads(line)) for n, line in enumerate(lines, start=1)]
    assert repr(records) == repr(expected)  # repr: NaN != NaN, and 1 == 1.0
    bad = list(read_records(io.BytesIO(b'{"a": 1,}\n[1]\n\xff\n'), "ndjson"))
    assert [(n, r.problem) for n, r in bad] == [
        (
            1,
            "malformed JSON at line 1, column 9: Expecting property name enclosed in double quotes",
        ),
        (2, "line 2 is not a JSON object"),
        (3, "not UTF-8 (byte 0)"),
    ]


def test_a_broken_ndjson_line_names_its_own_line_and_column():
    """A line cut short is reported where it ends (not as "line 2, column 1" of the text with
    its newline), and the standard library's dangling wording reads as a sentence."""
    data = b'{"request_id": "a", "provider": "openai"\n{"request_id": "b\tc"}\n'
    problems = [(n, r.problem) for n, r in read_records(io.BytesIO(data), "ndjson")]
    assert problems == [
        (1, "malformed JSON at line 1, column 41: Expecting ',' delimiter"),
        (
            2,
            "malformed JSON at line 2, column 18: Invalid control character (a raw tab or line "
            "break inside a string)",
        ),
    ]


def test_an_unclosed_csv_quote_is_named_on_its_line():
    """The quote swallows the lines after it: one malformed record that keeps their text, not
    a list of empty columns."""
    head = b"request_id,occurred_at,provider,model,input_tokens,output_tokens\n"
    data = (
        head
        + b"r1,2026-10-03T14:22:05Z,openai,gpt-4o-mini,10,5\n"
        + b'r2,"2026-10-03T14:22:05Z,openai,gpt-4o-mini,10,5\n'
        + b"r3,2026-10-03T14:22:05Z,openai,gpt-4o-mini,10,5\n"
    )
    (first, ok), (line, bad) = read_records(io.BytesIO(data), "csv")
    assert (first, ok["request_id"]) == (2, "r1")
    assert (line, bad.problem, bad.code) == (
        3, 'line 3: a quoted cell is not closed (a " with no closing ")', "malformed",
    )  # fmt: skip
    assert "r3,2026-10-03T14:22:05Z" in bad.raw
    short = head + b"r4,2026-10-03T14:22:05Z,openai,gpt-4o-mini,10\n"  # no quote: validated
    assert [r for _n, r in read_records(io.BytesIO(short), "csv")][0]["request_id"] == "r4"


def test_nul_characters_are_quarantined_not_lost(priced_org):
    """PostgreSQL text cannot hold NUL: such records are quarantined with a clear reason."""
    lines = (
        b'{"request_id":"n\\u0000ul","occurred_at":"2026-10-03T14:22:05Z","provider":"openai","model":"gpt-4o-mini","input_tokens":1,"output_tokens":1}\n'
        b'{"request_id":"raw\x00nul"}\n'
        b'{"request_id":"fine","occurred_at":"2026-10-03T14:22:05Z","provider":"openai","model":"gpt-4o-mini","input_tokens":1,"output_tokens":1}\n'
    )
    batch = ingest(priced_org, lines)
    assert (batch.status, batch.received, batch.accepted, batch.quarantined) == ("done", 3, 1, 2)
    with within(priced_org):
        reasons = sorted(
            QuarantinedEvent.objects.filter(batch=batch).values_list("line", "reasons")
        )
        assert [(line, r[0]["problem"]) for line, r in reasons] == [
            (1, "line 1 contains a NUL character (\\u0000), which cannot be stored"),
            (2, "line 2 contains a NUL character (\\u0000), which cannot be stored"),
        ]
        assert all("\x00" not in q.raw for q in QuarantinedEvent.objects.filter(batch=batch))
    as_json = ingest(
        priced_org,
        b'[{"request_id": "j\\u0000", "occurred_at": "2026-10-03T14:22:05Z"}]',
        fmt="json",
    )
    with within(priced_org):
        assert (as_json.quarantined, QuarantinedEvent.objects.get(batch=as_json).reason) == (
            1,
            "bad_value",
        )
