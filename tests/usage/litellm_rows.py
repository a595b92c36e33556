"""LiteLLM spend-log rows as the proxy writes them (`get_logging_payload()`, LiteLLM 1.108's
`SpendLogsPayload`): the usage object in `metadata` is LiteLLM's OpenAI-style `Usage`, whose
`prompt_tokens` includes cache reads and writes for every provider; `request_tags` and
`metadata` are stored as JSON text in the table and as objects by `/spend/logs`; `cache_hit`
is the text "True" or "False"."""

import json

SUPPORT = {"user_api_key_alias": "litellm-support", "user_api_key_team_alias": "Support"}
RESEARCH = {"user_api_key_alias": "litellm-research", "user_api_key_team_alias": "Research"}


def row(request_id, *, provider, model, prompt, completion, usage=None, meta=None, **extra):
    metadata = {
        **SUPPORT,
        "user_api_key_team_id": "team-7d5c1a",
        "user_api_key_user_id": "default_user_id",
        "spend_logs_metadata": None,
        "requester_ip_address": "",
        "usage_object": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "completion_tokens_details": None,
            "prompt_tokens_details": None,
            **(usage or {}),
        },
        "model_map_information": {"model_map_key": model, "model_map_value": {}},
        "additional_usage_values": {},
        "status": "success",
        **(meta or {}),
    }
    base = {
        "request_id": request_id,
        "call_type": "acompletion",
        "api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
        "spend": 0.01,
        "total_tokens": prompt + completion,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "startTime": "2025-10-03T14:22:05.123000",
        "endTime": "2025-10-03T14:22:07.456000",
        "completionStartTime": "2025-10-03T14:22:06.001000",
        "model": model,
        "model_id": "a1b2c3",
        "model_group": model.split("/")[-1],
        "api_base": "https://api.example.com",
        "user": "",
        "metadata": json.dumps(metadata),
        "cache_hit": "False",
        "cache_key": "",
        "request_tags": json.dumps(["production", "cost_center:CC-410"]),
        "team_id": "team-7d5c1a",
        "end_user": "u-42",
        "requester_ip_address": "",
        "custom_llm_provider": provider,
        "messages": [{"role": "user", "content": "SECRET-PROMPT summarise ticket 4411"}],
        "response": {
            "id": request_id,
            "model": model,
            "choices": [{"message": {"content": "SECRET-COMPLETION"}}],
        },
        "proxy_server_request": {"messages": [{"role": "user", "content": "SECRET-PROMPT"}]},
        "session_id": "s-1",
        "status": "success",
    }
    base.update(extra)
    return base


def mixed_export():
    """(rows, {request_id: expected cost}) for a month's export: OpenAI, Anthropic with cache
    reads and writes, Bedrock, Gemini, Azure, a cache hit and a failure."""
    rows = [
        # gpt-4o: 10,000 in of which 4,000 cached, 500 out:
        # 6,000 x 2.50 + 4,000 x 1.25 + 500 x 10 = 0.025
        row("oa-1", provider="openai", model="gpt-4o-2024-08-06", prompt=10_000, completion=500,
            usage={"prompt_tokens_details": {"cached_tokens": 4000, "audio_tokens": 0}}),
        # o3: 2,000 in, 3,000 out of which 2,500 reasoning: 2,000 x 2 + 3,000 x 8 = 0.028
        row("oa-2", provider="openai", model="o3-2025-04-16", prompt=2000, completion=3000,
            usage={"completion_tokens_details": {"reasoning_tokens": 2500}},
            meta=RESEARCH, request_tags="[]",
            ),
        # Sonnet 4, LiteLLM's prompt_tokens = 2,000 plain + 6,000 read + 2,000 written:
        # 2,000 x 3 + 6,000 x 0.30 + 2,000 x 3.75 + 1,000 x 15 = 0.0303
        row("an-1", provider="anthropic", model="claude-sonnet-4-20250514", prompt=10_000,
            completion=1000, usage={
                "cache_read_input_tokens": 6000, "cache_creation_input_tokens": 2000,
                "prompt_tokens_details": {"cached_tokens": 6000, "cache_creation_tokens": 2000},
            }),
        # Bedrock Sonnet 4: 4,000 x 3 + 200 x 15 = 0.015
        row("br-1", provider="bedrock", model="bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0",
            prompt=4000, completion=200, meta=RESEARCH, request_tags="[]"),
        # Gemini 2.0 Flash: 100,000 x 0.10 + 2,000 x 0.40 = 0.0108
        row("ge-1", provider="gemini", model="gemini/gemini-2.0-flash", prompt=100_000,
            completion=2000),
        # Azure deployment "support-gpt4o" of gpt-4o: no Azure price, so OpenAI's:
        # 1,000 x 2.50 + 100 x 10 = 0.0035
        row("az-1", provider="azure", model="azure/support-gpt4o", prompt=1000, completion=100,
            meta={"model_map_information": {"model_map_key": "azure/gpt-4o-2024-08-06"}}),
        # A cache hit: LiteLLM answered from its cache; counted, never charged
        row("hit-1", provider="openai", model="gpt-4o-2024-08-06", prompt=10_000,
            completion=500, cache_hit="True", spend=0.0),
        # A failure: no usage; an error, priced by the rule for failed requests (0 here)
        row("fail-1", provider="openai", model="gpt-4o-2024-08-06", prompt=0, completion=0,
            status="failure", spend=0.0,
            meta={"error_information": {"error_code": "429", "error_class": "RateLimitError"}}),
    ]  # fmt: skip
    # research rows carry their cost center in the request's spend-logs metadata
    for r in rows:
        if json.loads(r["metadata"])["user_api_key_alias"] == "litellm-research":
            meta = json.loads(r["metadata"])
            meta["spend_logs_metadata"] = {"cost_center": "CC-520", "workflow": "digest"}
            r["metadata"] = json.dumps(meta)
            r["request_tags"] = ["prod"]
    expected = {
        "oa-1": "0.025", "oa-2": "0.028", "an-1": "0.0303", "br-1": "0.015", "ge-1": "0.0108",
        "az-1": "0.0035", "hit-1": "0", "fail-1": "0",
    }  # fmt: skip
    return rows, expected
