"""A LiteLLM spend-log row as the usage event of DESIGN 6.1.

A row is what the proxy writes to `LiteLLM_SpendLogs` and serves at `/spend/logs` (its
`get_logging_payload()`): read from a JSON array, `{"data": [...]}`, or one row per line
(`records.py`). LiteLLM reports OpenAI-style usage for every provider: `prompt_tokens` is all
input, cache reads AND writes included (its Anthropic and Bedrock transformations add them),
`completion_tokens` all output, reasoning included; that is our convention, so the counts are
taken as they are, the cache and reasoning parts from the usage object in `metadata`. A row
whose cache parts exceed `prompt_tokens` was written the provider's way (cache outside), and
the parts are added to it.

Attribution: the key's alias is the gateway key, the key's team alias (or team id) the team,
the end user the user; tags come from `request_tags` (`"cost_center:CC-410"` and plain
`"production"`) and from `metadata.spend_logs_metadata` (a request's own metadata, which wins).
The priced model is LiteLLM's own pricing key (`model_map_key`), then the response's model,
before the deployment name. A cache hit (`cache_hit: "True"`) is a request LiteLLM answered
from its cache: recorded, counted, never charged. A failed call (`status: "failure"`) is an
error, priced by the organisation's rule for failed requests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chargeback.usage.tags import TAG_SET

ENVIRONMENTS = {
    "production": "production", "prod": "production", "staging": "staging",
    "stage": "staging", "development": "development", "dev": "development", "test": "test",
}  # fmt: skip
TAG_SYNONYMS = {"cost-center": "cost_center", "costcenter": "cost_center", "env": "environment"}


def as_object(value: Any) -> dict[str, Any]:
    """A JSON object that LiteLLM may have stored as text; {} for anything else."""
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    return dict(value) if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return []
    return list(value) if isinstance(value, list) else []


def tag_name(name: str) -> str | None:
    """Our tag for a tag key as people write it (`Cost-Center`, `team`); None if not ours."""
    key = name.strip().lower()
    key = TAG_SYNONYMS.get(key, key).replace("-", "_")
    return key if key in TAG_SET else None


def request_tags(values: list[Any]) -> dict[str, str]:
    """Tags of LiteLLM's request tags: `key:value` (or `key=value`) for our tag names, and a
    plain environment word (`production`, `prod`, `staging`, ...) for the environment. Other
    plain tags say nothing about the owner and are not used."""
    tags: dict[str, str] = {}
    for value in values:
        if not isinstance(value, str):
            continue
        for sep in (":", "="):
            key, found, rest = value.partition(sep)
            if found and (name := tag_name(key)) and rest.strip():
                tags.setdefault(name, rest.strip())
                break
        else:
            if value.strip().lower() in ENVIRONMENTS:
                tags.setdefault("environment", ENVIRONMENTS[value.strip().lower()])
    return tags


def metadata_tags(values: Mapping[str, Any]) -> dict[str, str]:
    """Tags of a metadata object (`spend_logs_metadata`): our tag names, as people write them."""
    tags = {}
    for key, value in values.items():
        name = tag_name(str(key))
        if name and isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            tags[name] = str(value)
    return tags


def _model(row: Mapping[str, Any], metadata: Mapping[str, Any]) -> str:
    """The priced model: LiteLLM's pricing key, the response's model, then the deployment."""
    mapped = as_object(metadata.get("model_map_information")).get("model_map_key")
    response = as_object(row.get("response")).get("model")
    hidden = as_object(metadata.get("hidden_params")).get("litellm_model_name")
    for candidate in (mapped, response, hidden, row.get("model"), row.get("model_group")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return ""


def _tokens(row: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    usage = as_object(metadata.get("usage_object"))
    extra = as_object(metadata.get("additional_usage_values"))
    prompt = as_object(usage.get("prompt_tokens_details"))
    completion = as_object(usage.get("completion_tokens_details"))
    read = (
        prompt.get("cached_tokens")
        or usage.get("cache_read_input_tokens")
        or extra.get("cache_read_input_tokens")
    )
    written = (
        usage.get("cache_creation_input_tokens")
        or prompt.get("cache_creation_tokens")
        or extra.get("cache_creation_input_tokens")
    )
    inp = row.get("prompt_tokens", usage.get("prompt_tokens"))
    parts = [v for v in (read, written) if type(v) is int]
    if type(inp) is int and sum(parts) > inp:
        inp += sum(parts)  # written the provider's way: the cache outside prompt_tokens
    out = {
        "input_tokens": inp if inp is not None else 0,
        "output_tokens": row.get("completion_tokens", usage.get("completion_tokens", 0)),
        "cached_input_tokens": read,
        "cache_write_input_tokens": written,
        "reasoning_tokens": completion.get("reasoning_tokens"),
    }
    return {
        k: v for k, v in out.items() if v not in (None, 0) or k in ("input_tokens", "output_tokens")
    }


def _failure(row: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    if str(row.get("status") or "success").strip().lower() in ("success", ""):
        return {"status_code": 200}
    code = as_object(metadata.get("error_information")).get("error_code")
    code = int(code) if str(code).isdigit() and 400 <= int(code) <= 599 else 500
    return {"status_code": code, "is_error": True}


def _has_offset(text: str) -> bool:
    tail = text[10:]
    return tail.endswith(("Z", "z")) or "+" in tail or "-" in tail


def from_litellm(row: Mapping[str, Any]) -> dict[str, Any]:
    """The event of one spend-log row (plain field names; validation checks it)."""
    metadata = as_object(row.get("metadata"))
    started = row.get("startTime") or row.get("start_time")
    if isinstance(started, str) and started and not _has_offset(started):
        started += "+00:00"  # LiteLLM stores UTC without an offset
    model = _model(row, metadata)
    provider = row.get("custom_llm_provider") or ""
    if not provider and "/" in model:
        provider = model.split("/", 1)[0]
    tags = request_tags(as_list(row.get("request_tags")))
    tags.update(metadata_tags(as_object(metadata.get("spend_logs_metadata"))))
    team = (
        metadata.get("user_api_key_team_alias")
        or row.get("team_id")
        or metadata.get("user_api_key_team_id")
    )
    if team and not tags.get("team"):
        tags["team"] = team
    out: dict[str, Any] = {
        "request_id": row.get("request_id"),
        "occurred_at": started,
        "provider": provider,
        "model": model,
        **_tokens(row, metadata),
        **_failure(row, metadata),
        "gateway_key_id": metadata.get("user_api_key_alias") or row.get("api_key"),
        "user_ref": (
            row.get("end_user") or metadata.get("user_api_key_end_user_id") or row.get("user")
        ),
        "tags": tags,
    }
    if str(row.get("cache_hit")).strip().lower() == "true":
        out["cache_hit"] = True
    return {k: v for k, v in out.items() if v not in (None, "", {})}
