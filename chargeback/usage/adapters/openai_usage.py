"""An OpenAI `usage` object (Chat Completions or Responses API) as our token classes.

OpenAI's convention is already ours: `prompt_tokens` (Responses: `input_tokens`) is all input,
cache reads included, with `prompt_tokens_details.cached_tokens` the part read from the cache;
`completion_tokens` (`output_tokens`) is all output, with
`completion_tokens_details.reasoning_tokens` the part spent reasoning. OpenAI does not charge
cache writes, so there are none."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def is_openai(usage: Mapping[str, Any]) -> bool:
    """The object has OpenAI's shape (Chat Completions or Responses)."""
    return any(
        k in usage
        for k in ("prompt_tokens", "completion_tokens", "input_tokens_details", "total_tokens")
    )


def _details(usage: Mapping[str, Any], *names: str) -> Mapping[str, Any]:
    for name in names:
        value = usage.get(name)
        if isinstance(value, Mapping):
            return value
    return {}


def tokens(usage: Mapping[str, Any]) -> dict[str, Any]:
    """The event's token fields from an OpenAI usage object (values as given: validation
    words what is wrong with them)."""
    prompt = _details(usage, "prompt_tokens_details", "input_tokens_details")
    completion = _details(usage, "completion_tokens_details", "output_tokens_details")
    out = {
        "input_tokens": usage.get("prompt_tokens", usage.get("input_tokens")),
        "output_tokens": usage.get("completion_tokens", usage.get("output_tokens")),
        "cached_input_tokens": prompt.get("cached_tokens"),
        "reasoning_tokens": completion.get("reasoning_tokens"),
    }
    return {k: v for k, v in out.items() if v is not None}
