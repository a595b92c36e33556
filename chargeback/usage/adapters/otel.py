"""OpenTelemetry GenAI spans (OTLP/JSON, as a collector's file exporter writes them or an
exporter posts them to `/api/v1/otel/v1/traces`) as usage events.

A span is a usage record when it carries a GenAI usage count; every other attribute (`http.*`,
`server.*`, `url.*`, vendors' own) is ignored. Read: the current and the older GenAI names and
the vendors' variants (`USAGE`); the resource's `service.name` and
`deployment.environment(.name)` as the service and environment tags; `chargeback.<tag>`,
`chargeback.gateway_key_id`, `chargeback.provider_account` and `chargeback.user_ref` on the span
or resource; LiteLLM's `metadata.*` attributes (key alias, team alias, end user, spend-logs
metadata, tags).

Convention: `gen_ai.usage.input_tokens` is all input, cache reads and writes included (as ours).
A span whose cache counts exceed it was written the Anthropic way (cache outside), and the
counts are added to it. Several spans of one call (same `gen_ai.response.id`: a gateway's span
and an SDK's) are one event: the span with the most complete usage gives the counts, the
others fill in what it lacks (team, key, service). Message content is never read (and is
removed before the payload is stored: `redact.py`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from chargeback.usage.adapters.litellm import (
    as_list,
    as_object,
    metadata_tags,
    request_tags,
    tag_name,
)
from chargeback.usage.tags import TAG_NAMES

USAGE = {
    "input_tokens": (
        "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens",
    ),
    "output_tokens": (
        "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
        "llm.usage.completion_tokens",
    ),
    "cached_input_tokens": (
        "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
        "gen_ai.usage.cached_tokens", "gen_ai.usage.input_tokens.cached",
    ),
    "cache_write_input_tokens": (
        "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_write.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
    ),
    "reasoning_tokens": (
        "gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens",
        "gen_ai.usage.output_tokens.reasoning",
    ),
}  # fmt: skip
COUNTS = frozenset(USAGE["input_tokens"] + USAGE["output_tokens"])
FIELDS = ("gateway_key_id", "provider_account", "user_ref")
LITELLM = {
    "gateway_key_id": ("metadata.user_api_key_alias",),
    "user_ref": ("metadata.user_api_key_end_user_id", "metadata.end_user"),
    "team": ("metadata.user_api_key_team_alias", "metadata.user_api_key_team_id"),
}


def value(v: Mapping[str, Any]) -> Any:
    """An OTLP AnyValue as Python (int64s come as strings in OTLP/JSON)."""
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        try:
            return int(v["intValue"])
        except (TypeError, ValueError):
            return v["intValue"]
    if "arrayValue" in v:
        return [value(x) for x in _objects(_object(v["arrayValue"]).get("values"))]
    if "kvlistValue" in v:
        return attributes(_object(v["kvlistValue"]).get("values"))
    return None


def attributes(items: Any) -> dict[str, Any]:
    out = {}
    for a in items if isinstance(items, list) else []:
        if isinstance(a, dict) and isinstance(a.get("key"), str):
            out[a["key"]] = value(_object(a.get("value")))
    return out


def _first(attrs: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if attrs.get(name) not in (None, ""):
            return attrs[name]
    return None


def _tags(resource: Mapping[str, Any], attrs: Mapping[str, Any]) -> dict[str, str]:
    tags: dict[str, str] = {}
    service = resource.get("service.name")
    if service and service != "unknown_service" and not str(service).startswith("unknown_service:"):
        tags["service"] = str(service)
    env = resource.get("deployment.environment.name") or resource.get("deployment.environment")
    if env:
        tags["environment"] = str(env)
    tags.update(request_tags(as_list(attrs.get("metadata.tags"))))
    tags.update(metadata_tags(as_object(attrs.get("metadata.spend_logs_metadata"))))
    team = _first(attrs, LITELLM["team"])
    if team and not tags.get("team"):
        tags["team"] = str(team)
    for source in (resource, attrs):  # chargeback.* wins, the span's over the resource's
        for key, v in source.items():
            if (
                key.startswith("chargeback.")
                and (name := tag_name(key[11:]))
                and v not in (None, "")
            ):
                tags[name] = str(v)
    return {k: tags[k] for k in TAG_NAMES if k in tags}


def _record(resource: Mapping[str, Any], span: Mapping[str, Any]) -> dict[str, Any] | None:
    attrs = attributes(span.get("attributes"))
    if COUNTS.isdisjoint(attrs):
        return None  # not a model call with usage (a tool, a database query, an HTTP client)
    counts = {f: _first(attrs, names) for f, names in USAGE.items()}
    inp, parts = (
        counts["input_tokens"],
        [counts["cached_input_tokens"], counts["cache_write_input_tokens"]],
    )
    if type(inp) is int and sum(p for p in parts if type(p) is int) > inp:
        counts["input_tokens"] = inp + sum(p for p in parts if type(p) is int)
    status = _object(span.get("status"))
    failed = status.get("code") in (2, "STATUS_CODE_ERROR") or bool(attrs.get("error.type"))
    response_id = attrs.get("gen_ai.response.id")
    record: dict[str, Any] = {
        "request_id": response_id or span.get("spanId"),
        "provider": _first(attrs, ("gen_ai.provider.name", "gen_ai.system")),
        "model": _first(attrs, ("gen_ai.response.model", "gen_ai.request.model")),
        "provider_response_id": response_id,
        **{k: v for k, v in counts.items() if v is not None},
        "tags": _tags(resource, attrs),
    }
    if failed:
        record["is_error"] = True
    if span.get("startTimeUnixNano") not in (None, ""):
        record["occurred_at_unix_nano"] = span["startTimeUnixNano"]
    for name in FIELDS:
        found = attrs.get(f"chargeback.{name}") or resource.get(f"chargeback.{name}")
        found = found or _first(attrs, LITELLM.get(name, ()))
        if found not in (None, ""):
            record[name] = found
    return {k: v for k, v in record.items() if v not in (None, "", {})}


def _completeness(record: Mapping[str, Any]) -> tuple[int, int]:
    """How complete a span's usage is: token classes given, then the input count."""
    given = sum(1 for f in USAGE if record.get(f) not in (None, 0))
    inp = record.get("input_tokens")
    return given, inp if type(inp) is int else 0


def merge(records: list[dict[str, Any]]) -> dict[str, Any]:
    """One event from the spans of one call: the counts of the most complete, the rest from
    whichever span has them (the most complete first)."""
    best = max(records, key=_completeness)
    merged = {k: v for k, v in best.items() if k not in USAGE}
    for other in [best, *records]:
        for key, v in other.items():
            if key == "tags":
                merged["tags"] = {**v, **merged.get("tags", {})}
            elif key not in USAGE:
                merged.setdefault(key, v)
    merged.update({k: v for k, v in best.items() if k in USAGE})
    return merged


def _objects(value: Any) -> list[dict[str, Any]]:
    """The objects of a list (an OTLP repeated field); nothing for anything else."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def spans(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The usage records of an OTLP/JSON traces document, one per call, in document order."""
    calls: dict[str, list[dict[str, Any]]] = {}
    order: list[str | dict[str, Any]] = []
    for resource_spans in _objects(document.get("resourceSpans")):
        resource = attributes(_object(resource_spans.get("resource")).get("attributes"))
        scopes = resource_spans.get("scopeSpans") or resource_spans.get(
            "instrumentationLibrarySpans"
        )
        for scope in _objects(scopes):
            for span in _objects(scope.get("spans")):
                record = _record(resource, span)
                if record is None:
                    continue
                rid = record.get("provider_response_id")
                if not isinstance(rid, str) or not rid:
                    order.append(record)
                elif rid in calls:
                    calls[rid].append(record)
                else:
                    calls[rid] = [record]
                    order.append(rid)
    for item in order:
        yield merge(calls[item]) if isinstance(item, str) else item
