"""A record's field names: the OpenTelemetry GenAI aliases, tags given at the top level, and a
provider's raw `usage` object, all brought to the plain names of DESIGN 6.1 (`flatten`, pure).

`validation.py` checks the flattened record; the source adapters (`adapters/`) write plain
names themselves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chargeback.usage.adapters import anthropic_usage, openai_usage
from chargeback.usage.tags import TAG_NAMES, TAG_SET

# alias -> field; the first alias present wins, so the response model beats the request model.
# Both the current and the older GenAI names, and the vendors' variants of the usage names.
ALIASES = {
    "gen_ai.provider.name": "provider",
    "gen_ai.system": "provider",
    "gen_ai.response.model": "model",
    "gen_ai.request.model": "model",
    "gen_ai.response.id": "provider_response_id",
    "gen_ai.usage.input_tokens": "input_tokens",
    "gen_ai.usage.prompt_tokens": "input_tokens",
    "gen_ai.usage.output_tokens": "output_tokens",
    "gen_ai.usage.completion_tokens": "output_tokens",
    "gen_ai.usage.cache_read.input_tokens": "cached_input_tokens",
    "gen_ai.usage.cache_read_input_tokens": "cached_input_tokens",
    "gen_ai.usage.cached_tokens": "cached_input_tokens",
    "gen_ai.usage.cache_creation.input_tokens": "cache_write_input_tokens",
    "gen_ai.usage.cache_write.input_tokens": "cache_write_input_tokens",
    "gen_ai.usage.cache_creation_input_tokens": "cache_write_input_tokens",
    "gen_ai.usage.reasoning.output_tokens": "reasoning_tokens",
    "gen_ai.usage.reasoning_tokens": "reasoning_tokens",
}
ALIAS_KEYS = frozenset(ALIASES)
USAGE = "usage"  # a provider's raw usage object (OpenAI or Anthropic), converted
_SPECIAL = ALIAS_KEYS | TAG_SET | {USAGE}


def provider_usage(usage: Any, provider: Any) -> dict[str, Any] | None:
    """The token fields of an OpenAI or Anthropic `usage` object, told apart by their shape
    (and, when the shape says nothing, by the provider; both conventions agree then, with no
    cache counts); None if it is not such an object."""
    if not isinstance(usage, Mapping):
        return None
    try:
        if openai_usage.is_openai(usage):
            return openai_usage.tokens(usage)
        if anthropic_usage.is_anthropic(usage) or str(provider).lower() == "anthropic":
            return anthropic_usage.tokens(usage)
        return openai_usage.tokens(usage)
    except ValueError:
        return None


def flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    """Apply the aliases (a plain field beats its alias), convert a `usage` object (plain token
    fields beat it) and lift tag names given at the top level into `tags` (a tag inside `tags`
    beats it). A `usage` object that cannot be read is left under its name, for validation to
    refuse; so are top-level tags when `tags` is not an object."""
    if _SPECIAL.isdisjoint(record):
        return dict(record)  # the common case: plain field names, tags already nested
    out: dict[str, Any] = {k: v for k, v in record.items() if k not in ALIASES}
    for alias, target in ALIASES.items():
        if alias in record and target not in out:
            out[target] = record[alias]
    if USAGE in out:
        converted = provider_usage(out[USAGE], out.get("provider"))
        if converted is not None:
            del out[USAGE]
            for name, value in converted.items():
                out.setdefault(name, value)
    raw_tags = out.get("tags")
    if raw_tags is None or isinstance(raw_tags, dict):
        tags = dict(raw_tags or {})
        for name in TAG_NAMES:
            if name in out:
                value = out.pop(name)
                if tags.get(name) in (None, ""):
                    tags[name] = value
        if tags or raw_tags is not None:
            out["tags"] = tags
    return out
