"""An Anthropic `usage` object (Messages API) as our token classes.

Anthropic's `input_tokens` EXCLUDES the cache: `cache_read_input_tokens` and
`cache_creation_input_tokens` are counted beside it, not in it. Our `input_tokens` is all
input, so it is the sum of the three, of which the cache reads and writes are parts.
`output_tokens` is all output (extended thinking included)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def is_anthropic(usage: Mapping[str, Any]) -> bool:
    return "cache_read_input_tokens" in usage or "cache_creation_input_tokens" in usage


def count(value: Any) -> int:
    """A token count that can be added up; ValueError for anything else."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError("not a count")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    raise ValueError("not a count")


def tokens(usage: Mapping[str, Any]) -> dict[str, Any]:
    """The event's token fields from an Anthropic usage object; ValueError if a count is not
    a whole number (the sum cannot be made)."""
    read = count(usage.get("cache_read_input_tokens"))
    written = count(usage.get("cache_creation_input_tokens"))
    out = {
        "input_tokens": count(usage.get("input_tokens")) + read + written,
        "output_tokens": usage.get("output_tokens"),
        "cached_input_tokens": read,
        "cache_write_input_tokens": written,
    }
    return {k: v for k, v in out.items() if v is not None}
