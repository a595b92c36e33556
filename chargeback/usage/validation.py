"""Validating and normalising one usage record (pure). A record either becomes a Draft or
gets a list of Reasons, each naming the field and the problem."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

MAX_TOKENS = 100_000_000  # per token class per request: far beyond any real context window
MAX_FUTURE = dt.timedelta(minutes=15)
TAG_NAMES = ("team", "service", "cost_center", "environment", "workflow", "prompt_template")
TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "reasoning_tokens",
)
ALIASES = {
    "gen_ai.provider.name": "provider",
    "gen_ai.system": "provider",
    "gen_ai.response.model": "model",
    "gen_ai.request.model": "model",
    "gen_ai.response.id": "provider_response_id",
    "gen_ai.usage.input_tokens": "input_tokens",
    "gen_ai.usage.output_tokens": "output_tokens",
    "gen_ai.usage.cache_read.input_tokens": "cached_input_tokens",
    "gen_ai.usage.cache_creation.input_tokens": "cache_write_input_tokens",
    "gen_ai.usage.reasoning.output_tokens": "reasoning_tokens",
}
ALIAS_KEYS = frozenset(ALIASES)
TAG_SET = frozenset(TAG_NAMES)
KNOWN = {
    "request_id", "occurred_at", "provider", "model", "batch", "status_code", "is_error",
    "gateway_key_id", "provider_account", "retry_of", "attempt", "provider_response_id", "user_ref",
    "tags", "occurred_at_unix_nano", *TOKEN_FIELDS, *TAG_NAMES,
}  # fmt: skip


@dataclass(frozen=True)
class Reason:
    field: str
    problem: str
    code: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "problem": self.problem, "code": self.code}


@dataclass(frozen=True)
class Draft:
    request_id: str
    occurred_at: dt.datetime
    provider: str
    model_raw: str
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    reasoning_tokens: int = 0
    batch: bool = False
    status_code: int | None = None
    is_error: bool = False
    retry_of: str = ""
    attempt: int = 1
    provider_response_id: str = ""
    user_ref: str = ""
    gateway_key_id: str = ""
    provider_account: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def fingerprint(self) -> str:
        """Same request_id with the same fingerprint is a repeat; a different one is a conflict."""
        parts = (
            self.occurred_at.astimezone(dt.UTC).isoformat(), self.provider, self.model_raw,
            self.input_tokens, self.output_tokens, self.cached_input_tokens,
            self.cache_write_input_tokens, self.reasoning_tokens, self.batch,
        )  # fmt: skip
        return hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()


def flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    """Apply OpenTelemetry aliases (the first of ALIASES present wins, so the response model
    beats the request model; a plain field beats its alias) and lift tag columns into `tags`."""
    if ALIAS_KEYS.isdisjoint(record) and TAG_SET.isdisjoint(record):
        return dict(record)  # the common case: plain field names, tags already nested
    out: dict[str, Any] = {k: v for k, v in record.items() if k not in ALIASES}
    for alias, target in ALIASES.items():
        if alias in record and target not in out:
            out[target] = record[alias]
    tags = dict(out.get("tags") or {}) if isinstance(out.get("tags"), dict) else out.get("tags")
    if isinstance(tags, dict):
        for name in TAG_NAMES:
            if name in out and name not in tags:
                tags[name] = out.pop(name)
        out["tags"] = tags
    return out


def _text(
    record: Mapping[str, Any], name: str, reasons: list[Reason], *, required: bool, limit: int = 200
) -> str:
    value = record.get(name)
    if value is None or value == "":
        if required:
            reasons.append(Reason(name, "required", "missing_field"))
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        reasons.append(Reason(name, f"must be a string, got {type(value).__name__}", "bad_type"))
        return ""
    text = str(value).strip()
    if len(text) > limit:
        reasons.append(Reason(name, f"longer than {limit} characters", "bad_value"))
        return ""
    return text


def _int(record: Mapping[str, Any], name: str, reasons: list[Reason], *, required: bool) -> int:
    value = record.get(name)
    if type(value) is int and 0 <= value <= MAX_TOKENS:
        return value  # the common case, fast
    if value is None or value == "":
        if required:
            reasons.append(Reason(name, "required", "missing_field"))
        return 0
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        reasons.append(Reason(name, f'must be a whole number, got "{value}"', "bad_type"))
        return 0
    if value < 0:
        reasons.append(Reason(name, f"must not be negative, got {value}", "bad_tokens"))
        return 0
    if value > MAX_TOKENS:
        reasons.append(Reason(name, f"{value} is above the limit of {MAX_TOKENS:,}", "bad_tokens"))
        return 0
    return value


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in (
        "true",
        "1",
        "yes",
        "false",
        "0",
        "no",
        "",
    ):
        return value.strip().lower() in ("true", "1", "yes")
    if isinstance(value, int):
        return bool(value)
    return None


def _timestamp(
    record: Mapping[str, Any], reasons: list[Reason], now: dt.datetime
) -> dt.datetime | None:
    value = record.get("occurred_at")
    if value is None and "occurred_at_unix_nano" in record:
        try:
            return dt.datetime.fromtimestamp(int(record["occurred_at_unix_nano"]) / 1e9, tz=dt.UTC)
        except (TypeError, ValueError, OverflowError):
            reasons.append(
                Reason("occurred_at", "not a valid Unix time in nanoseconds", "bad_timestamp")
            )
            return None
    if value is None or value == "":
        reasons.append(Reason("occurred_at", "required", "missing_field"))
        return None
    if not isinstance(value, str):
        reasons.append(
            Reason("occurred_at", "must be an ISO 8601 string with a UTC offset", "bad_timestamp")
        )
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        reasons.append(
            Reason("occurred_at", f'"{value}" is not an ISO 8601 timestamp', "bad_timestamp")
        )
        return None
    if parsed.tzinfo is None:
        reasons.append(
            Reason("occurred_at", f'"{value}" has no UTC offset (add Z or +HH:MM)', "bad_timestamp")
        )
        return None
    parsed = parsed.astimezone(dt.UTC)
    if parsed > now + MAX_FUTURE:
        reasons.append(Reason("occurred_at", f"{value} is in the future", "future_timestamp"))
        return None
    return parsed


def validate(
    record: Mapping[str, Any],
    *,
    now: dt.datetime,
    required_tags: Sequence[str] = (),
    key_defaults: Mapping[str, Mapping[str, str]] | None = None,
) -> Draft | list[Reason]:
    """`key_defaults` maps a gateway key id to tags it implies (service, environment)."""
    r = flatten(record)
    reasons: list[Reason] = []
    unknown = sorted(
        k for k in r if k not in KNOWN and not k.startswith(("gen_ai.", "chargeback."))
    )
    if unknown:
        reasons.append(
            Reason(unknown[0], f"unknown field(s): {', '.join(unknown)}", "unknown_field")
        )
    request_id = _text(r, "request_id", reasons, required=True)
    occurred_at = _timestamp(r, reasons, now)
    provider = _text(r, "provider", reasons, required=True, limit=60).lower()
    model_raw = _text(r, "model", reasons, required=True)
    tokens = {
        name: _int(r, name, reasons, required=name in ("input_tokens", "output_tokens"))
        for name in TOKEN_FIELDS
    }
    if tokens["cached_input_tokens"] + tokens["cache_write_input_tokens"] > tokens["input_tokens"]:
        reasons.append(
            Reason(
                "cached_input_tokens",
                "cache reads and writes are parts of input_tokens and exceed it",
                "bad_tokens",
            )
        )
    if tokens["reasoning_tokens"] > tokens["output_tokens"]:
        reasons.append(
            Reason(
                "reasoning_tokens",
                "reasoning tokens are part of output_tokens and exceed it",
                "bad_tokens",
            )
        )
    raw_tags = r.get("tags") or {}
    tags: dict[str, str] = {}
    if not isinstance(raw_tags, dict):
        reasons.append(Reason("tags", "must be an object of tag names to strings", "bad_type"))
    else:
        for name, value in raw_tags.items():
            if name not in TAG_NAMES:
                reasons.append(
                    Reason(
                        f"tags.{name}",
                        f"unknown tag (known: {', '.join(TAG_NAMES)})",
                        "unknown_field",
                    )
                )
            elif value not in (None, ""):
                if not isinstance(value, str | int) or isinstance(value, bool):
                    reasons.append(Reason(f"tags.{name}", "must be a string", "bad_type"))
                else:
                    tags[name] = str(value).strip()[:200]
    gateway_key_id = _text(r, "gateway_key_id", reasons, required=False)
    for name, value in (key_defaults or {}).get(gateway_key_id, {}).items():
        if value:
            tags.setdefault(name, value)
    batch = _bool(r.get("batch", False))
    if batch is None:
        reasons.append(Reason("batch", "must be true or false", "bad_type"))
    status_code = None
    if r.get("status_code") not in (None, ""):
        status_code = _int(r, "status_code", reasons, required=False)
        if status_code and not 100 <= status_code <= 599:
            reasons.append(
                Reason("status_code", f"{status_code} is not an HTTP status", "bad_value")
            )
    is_error = _bool(r.get("is_error", False))
    attempt = _int(r, "attempt", reasons, required=False) or 1
    if tags.get("environment") == "production":
        missing = [t for t in required_tags if not tags.get(t)]
        if missing:
            reasons.append(
                Reason(
                    f"tags.{missing[0]}",
                    f"production traffic needs the tag(s) {', '.join(missing)}",
                    "missing_tag",
                )
            )
    if reasons:
        return reasons
    return Draft(
        request_id=request_id,
        occurred_at=occurred_at,
        provider=provider,
        model_raw=model_raw,
        batch=bool(batch),
        status_code=status_code,
        is_error=bool(is_error) or (status_code is not None and status_code >= 400),
        retry_of=_text(r, "retry_of", [], required=False),
        attempt=attempt,
        provider_response_id=_text(r, "provider_response_id", [], required=False),
        user_ref=_text(r, "user_ref", [], required=False),
        gateway_key_id=gateway_key_id,
        provider_account=_text(r, "provider_account", [], required=False),
        tags=tags,
        **tokens,
    )
