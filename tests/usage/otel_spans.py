"""OTLP/JSON spans as four instrumentations write them (from their documented attributes):
LiteLLM's OpenTelemetry callback (older names, `metadata.*`), OpenLLMetry's openai and
anthropic instrumentations (`gen_ai.usage.cache_read_input_tokens`, reasoning), the OTel
contrib openai-v2 instrumentation (with `http.*`/`server.*` attributes), and the Anthropic SDK's
tracing (`gen_ai.usage.cache_write.input_tokens`, `gen_ai.input.messages`). Each carries
message text ("SECRET-...") that must never be stored."""

import json


def attr(key, value):
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    if isinstance(value, list):
        return {
            "key": key,
            "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}},
        }
    return {"key": key, "value": {"stringValue": value}}


def span(span_id, name, attrs, *, start="1759501325000000000", status=None, events=()):
    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": span_id,
        "parentSpanId": "",
        "name": name,
        "kind": 3,
        "startTimeUnixNano": start,
        "endTimeUnixNano": str(int(start) + 2_000_000_000),
        "attributes": [attr(k, v) for k, v in attrs.items()],
        "events": list(events),
        "status": status or {},
    }


def resource(service, environment, spans, *, scope, env_key="deployment.environment", extra=None):
    attrs = {"service.name": service, env_key: environment, "telemetry.sdk.language": "python"}
    attrs.update(extra or {})
    return {
        "resource": {"attributes": [attr(k, v) for k, v in attrs.items()]},
        "scopeSpans": [{"scope": {"name": scope, "version": "0.62.0"}, "spans": spans}],
    }


LITELLM = span("1000000000000001", "litellm_request", {
    "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.response.id": "chatcmpl-L1",
    "gen_ai.usage.prompt_tokens": 10_000, "gen_ai.usage.completion_tokens": 500,
    "llm.usage.total_tokens": 10_500, "llm.is_streaming": "False",
    "metadata.user_api_key_alias": "litellm-support",
    "metadata.user_api_key_team_alias": "Support",
    "metadata.spend_logs_metadata": json.dumps({"cost_center": "CC-410"}),
    "metadata.user_api_key_hash": "88dc28d0f030c55e", "litellm.call_id": "c-1",
    "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "SECRET-PROMPT litellm",
    "gen_ai.completion.0.content": "SECRET-COMPLETION litellm",
})  # fmt: skip
# OpenLLMetry's openai instrumentation in the calling app: the same call (same response id),
# with the cache and reasoning counts LiteLLM's span lacks
OPENLLMETRY_OPENAI = span("2000000000000002", "openai.chat", {
    "llm.request.type": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.response.id": "chatcmpl-L1",
    "gen_ai.usage.input_tokens": 10_000, "gen_ai.usage.output_tokens": 500,
    "gen_ai.usage.cache_read_input_tokens": 4000, "gen_ai.usage.reasoning_tokens": 100,
    "llm.usage.total_tokens": 10_500, "gen_ai.openai.api_base": "http://litellm:4000/",
    "gen_ai.prompt.0.content": "SECRET-PROMPT openllmetry", "llm.prompts.0.content": "SECRET",
})  # fmt: skip
OPENLLMETRY_ANTHROPIC = span("3000000000000003", "anthropic.chat", {
    "llm.request.type": "chat", "gen_ai.system": "Anthropic",
    "gen_ai.request.model": "claude-sonnet-4-20250514",
    "gen_ai.response.model": "claude-sonnet-4-20250514", "gen_ai.response.id": "msg_A1",
    "gen_ai.usage.input_tokens": 10_000, "gen_ai.usage.output_tokens": 1000,
    "gen_ai.usage.cache_read_input_tokens": 6000, "gen_ai.usage.cache_creation_input_tokens": 2000,
    "llm.usage.total_tokens": 11_000,
    "gen_ai.completion.0.content": "SECRET-COMPLETION anthropic",
})  # fmt: skip
CONTRIB_OPENAI = span("4000000000000004", "chat gpt-4o-mini", {
    "gen_ai.operation.name": "chat", "gen_ai.system": "openai",
    "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.response.id": "chatcmpl-C1", "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 300, "gen_ai.response.finish_reasons": ["stop"],
    "gen_ai.openai.response.service_tier": "default", "openai.response.system_fingerprint": "fp_1",
    "server.address": "api.openai.com", "server.port": 443, "http.response.status_code": 200,
    "url.full": "https://api.openai.com/v1/chat/completions",
}, events=[{"name": "gen_ai.user.message", "timeUnixNano": "1759501325000000000",
            "attributes": [attr("gen_ai.system", "openai"), attr("content", "SECRET-PROMPT contrib")]}])  # fmt: skip
ANTHROPIC_SDK = span(
    "5000000000000005",
    "chat claude-haiku-4-5",
    {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-haiku-4-5",
        "gen_ai.response.model": "claude-haiku-4-5-20251001",
        "gen_ai.response.id": "msg_B1",
        "gen_ai.usage.input_tokens": 5000,
        "gen_ai.usage.cache_read.input_tokens": 3000,
        "gen_ai.usage.cache_write.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 400,
        "gen_ai.input.messages": json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": "SECRET-PROMPT sdk"}]}]
        ),
        "gen_ai.output.messages": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": "SECRET-COMPLETION sdk"}]}]
        ),
        "gen_ai.system_instructions": "SECRET-SYSTEM",
    },
    start="1761000000000000000",
)  # fmt: skip  (2025-10-20: Haiku 4.5 is priced from 2025-10-15)
# A span of a call with no model name: quarantined, and its messages not kept there either
BROKEN = span("6000000000000006", "chat", {
    "gen_ai.system": "openai", "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 1,
    "gen_ai.input.messages": "SECRET-PROMPT broken",
})  # fmt: skip
DB = span(
    "7000000000000007", "SELECT tickets", {"db.system": "postgresql", "db.statement": "SELECT 1"}
)

SUPPORT = {"chargeback.team": "SUP", "chargeback.cost_center": "CC-410"}
RESEARCH = {"chargeback.team": "RES", "chargeback.cost_center": "CC-520"}


def document(*, broken=False):
    """The OTLP/JSON document, as the collector's file exporter writes it."""
    return {
        "resourceSpans": [
            resource("litellm", "production", [LITELLM], scope="litellm"),
            resource("ticket-summarizer", "production", [OPENLLMETRY_OPENAI, DB],
                     scope="opentelemetry.instrumentation.openai.v1"),
            resource("paper-digest", "production", [OPENLLMETRY_ANTHROPIC],
                     scope="opentelemetry.instrumentation.anthropic", extra=RESEARCH),
            resource("ticket-summarizer", "production", [CONTRIB_OPENAI, *([BROKEN] if broken else [])],
                     scope="opentelemetry.instrumentation.openai_v2",
                     env_key="deployment.environment.name", extra=SUPPORT),
            resource("ticket-summarizer", "production", [ANTHROPIC_SDK], scope="anthropic",
                     extra=SUPPORT),
        ]
    }  # fmt: skip


# request id -> (unit, cost); every cost computed from the default price book in the comments
EXPECTED = {
    # 6,000 x 2.50 + 4,000 x 1.25 + 500 x 10 per 1M (LiteLLM's team, OpenLLMetry's cache count)
    "chatcmpl-L1": ("SUP", "0.025"),
    # 2,000 x 3 + 6,000 x 0.30 + 2,000 x 3.75 + 1,000 x 15
    "msg_A1": ("RES", "0.0303"),
    # 1,200 x 0.15 + 300 x 0.60
    "chatcmpl-C1": ("SUP", "0.00036"),
    # 1,000 x 1 + 3,000 x 0.10 + 1,000 x 1.25 + 400 x 5
    "msg_B1": ("SUP", "0.00455"),
}
