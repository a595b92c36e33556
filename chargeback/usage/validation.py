"""Validating and normalising one usage record (pure). A record either becomes a Draft or
gets a list of Reasons, each naming the field and the problem."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from chargeback.usage.fields import ALIASES, USAGE, flatten  # noqa: F401 (re-exported)
from chargeback.usage.tags import TAG_NAMES, TAG_SET

MAX_TOKENS = 100_000_000  # per token class per request: far beyond any real context window
MAX_FUTURE = dt.timedelta(minutes=15)
TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "reasoning_tokens",
)
KNOWN = {
    "request_id", "occurred_at", "provider", "model", "batch", "status_code", "is_error",
    "gateway_key_id", "provider_account", "retry_of", "attempt", "provider_response_id", "user_ref",
    "tags", "occurred_at_unix_nano", "cache_hit", *TOKEN_FIELDS, *TAG_NAMES,
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
    cache_hit: bool = False  # served from a gateway's cache: counted, never charged
    tags: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def occurred_iso(self) -> str:
        """The UTC time in ISO 8601 (`occurred_at.isoformat()`)."""
        return self.occurred_at.astimezone(dt.UTC).isoformat()

    @cached_property
    def fingerprint(self) -> str:
        """Same request_id with the same fingerprint is a repeat; a different one is a conflict."""
        return _fingerprint(
            self.occurred_at, self.provider, self.model_raw, self.input_tokens,
            self.output_tokens, self.cached_input_tokens, self.cache_write_input_tokens,
            self.reasoning_tokens, self.batch,
        )  # fmt: skip


def _fingerprint(
    occurred_at: dt.datetime, provider: str, model_raw: str, input_tokens: int,
    output_tokens: int, cached: int, written: int, reasoning: int, batch: bool,
) -> str:  # fmt: skip
    """SHA-1 of the repr of the tuple (UTC ISO time, provider, model, token counts, batch).
    Stored with every event: the text hashed must never change."""
    text = (
        f"({occurred_at.astimezone(dt.UTC).isoformat()!r}, {provider!r}, {model_raw!r}, "
        f"{input_tokens!r}, {output_tokens!r}, {cached!r}, {written!r}, {reasoning!r}, {batch!r})"
    )
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


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
        reasons.append(Reason(name, f"must not be negative, got {value}", "negative_tokens"))
        return 0
    if value > MAX_TOKENS:
        reasons.append(Reason(name, f"{value} is above the limit of {MAX_TOKENS:,}", "bad_tokens"))
        return 0
    return value


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, int):
        return bool(value)
    return None


_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


def _timestamp(
    record: Mapping[str, Any], reasons: list[Reason], now: dt.datetime
) -> dt.datetime | None:
    parsed = read_time(record)
    if isinstance(parsed, Reason):
        reasons.append(parsed)
        return None
    value = record.get("occurred_at")  # None: the Unix time, which is never refused as future
    if value is not None and parsed > now + MAX_FUTURE:
        reasons.append(Reason("occurred_at", f"{value} is in the future", "future_timestamp"))
        return None
    return parsed


def read_time(record: Mapping[str, Any]) -> dt.datetime | Reason:
    """A flattened record's time in UTC (`occurred_at` in ISO 8601 with an offset, or
    `occurred_at_unix_nano`), or why it has none."""
    value = record.get("occurred_at")
    if value is None and "occurred_at_unix_nano" in record:
        try:
            return dt.datetime.fromtimestamp(int(record["occurred_at_unix_nano"]) / 1e9, tz=dt.UTC)
        except (TypeError, ValueError, OverflowError):
            return Reason("occurred_at", "not a valid Unix time in nanoseconds", "bad_timestamp")
    if value is None or value == "":
        return Reason("occurred_at", "required", "missing_field")
    if not isinstance(value, str):
        return Reason(
            "occurred_at", "must be an ISO 8601 string with a UTC offset", "bad_timestamp"
        )
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        return Reason("occurred_at", f'"{value}" is not an ISO 8601 timestamp', "bad_timestamp")
    if parsed.tzinfo is None:
        return Reason(
            "occurred_at", f'"{value}" has no UTC offset (add Z or +HH:MM)', "bad_timestamp"
        )
    return parsed.astimezone(dt.UTC)


def token_count(record: Mapping[str, Any], name: str) -> int:
    """A flattened record's count `name` as `validate` reads it, 0 where it would refuse it."""
    return _int(record, name, [], required=False)


def validate(
    record: Mapping[str, Any],
    *,
    now: dt.datetime,
    required_tags: Sequence[str] = (),
    key_defaults: Mapping[str, Mapping[str, str]] | None = None,
) -> Draft | list[Reason]:
    """`key_defaults` maps a gateway key id to tags it implies (service, environment)."""
    draft = _well_formed(record, now, required_tags, key_defaults)
    if draft is not None:
        return draft
    return _validate_any(record, now=now, required_tags=required_tags, key_defaults=key_defaults)


PLAIN_KEYS = frozenset(KNOWN - TAG_SET - {"occurred_at_unix_nano", "cache_hit"})
LOOSE_TEXT = ("retry_of", "provider_response_id", "user_ref", "provider_account")


def _well_formed(
    record: Mapping[str, Any],
    now: dt.datetime,
    required_tags: Sequence[str],
    key_defaults: Mapping[str, Mapping[str, str]] | None,
) -> Draft | None:
    """The fast path for the common record: plain field names and values of exactly the right
    types. It accepts only records that `_validate_any` accepts, with an equal Draft; anything
    else (None) takes the full path, which also words the reasons."""
    if not PLAIN_KEYS.issuperset(record):
        return None
    get = record.get
    request_id, provider, model, when = (
        get("request_id"), get("provider"), get("model"), get("occurred_at"),
    )  # fmt: skip
    if not (
        type(request_id) is str and type(provider) is str and type(model) is str
        and type(when) is str and request_id and provider and model and when
    ):  # fmt: skip
        return None
    request_id, provider, model = request_id.strip(), provider.strip(), model.strip()
    if len(request_id) > 200 or len(provider) > 60 or len(model) > 200:
        return None
    provider = provider.lower()
    try:
        occurred_at = _fromisoformat(when.strip().replace("z", "Z"))
    except ValueError:
        return None
    if occurred_at.tzinfo is None:
        return None
    occurred_at = occurred_at.astimezone(_UTC)
    if occurred_at > now + MAX_FUTURE:
        return None
    inp, out = get("input_tokens"), get("output_tokens")
    cached, written, reasoning = (
        get("cached_input_tokens", 0), get("cache_write_input_tokens", 0),
        get("reasoning_tokens", 0),
    )  # fmt: skip
    if not (
        type(inp) is int
        and type(out) is int
        and type(cached) is int
        and type(written) is int
        and type(reasoning) is int
        and 0 <= inp <= MAX_TOKENS
        and 0 <= out <= MAX_TOKENS
        and 0 <= cached <= MAX_TOKENS
        and 0 <= written <= MAX_TOKENS
        and 0 <= reasoning <= MAX_TOKENS
        and cached + written <= inp
        and reasoning <= out
    ):  # fmt: skip  (a missing input or output count is None, which is not an int)
        return None
    raw_tags = get("tags")
    tags: dict[str, str] = {}
    if raw_tags:
        if type(raw_tags) is not dict:
            return None
        for name, value in raw_tags.items():
            if name not in TAG_SET:
                return None
            if type(value) is str:
                if value:
                    tags[name] = value.strip()[:200]
            elif value is not None:
                return None
    gateway_key_id = get("gateway_key_id")
    if gateway_key_id is None:
        gateway_key_id = ""
    elif type(gateway_key_id) is str:
        gateway_key_id = gateway_key_id.strip()
        if len(gateway_key_id) > 200:
            return None
    else:
        return None
    if key_defaults and gateway_key_id in key_defaults:
        for name, value in key_defaults[gateway_key_id].items():
            if value:
                tags.setdefault(name, value)
    batch, is_error = get("batch", False), get("is_error", False)
    status_code, attempt = get("status_code"), get("attempt")
    if type(batch) is not bool or type(is_error) is not bool:
        return None
    if status_code is not None and not (type(status_code) is int and 100 <= status_code <= 599):
        return None
    if attempt is None:
        attempt = 1
    elif type(attempt) is int and 0 <= attempt <= MAX_TOKENS:
        attempt = attempt or 1
    else:
        return None
    if required_tags and tags.get("environment") == "production":
        for name in required_tags:
            if not tags.get(name):
                return None
    retry_of, response_id, user_ref, account = (
        get("retry_of"), get("provider_response_id"), get("user_ref"), get("provider_account"),
    )  # fmt: skip
    retry_of = "" if retry_of is None else _text(record, "retry_of", [], required=False)
    response_id = (
        "" if response_id is None else _text(record, "provider_response_id", [], required=False)
    )
    user_ref = "" if user_ref is None else _text(record, "user_ref", [], required=False)
    account = "" if account is None else _text(record, "provider_account", [], required=False)
    # The fingerprint's text, as _fingerprint writes it (the time is in UTC already), with the
    # repr of (provider, model) memoised.
    named = _NAMES_REPR.get((provider, model))
    if named is None:
        if len(_NAMES_REPR) > 10_000:
            _NAMES_REPR.clear()
        named = _NAMES_REPR[(provider, model)] = f"{provider!r}, {model!r}, "
    if (
        len(when) == 20 and when[19] in "Zz" and when[10] == "T"
        and when[4] == when[7] == "-" and when[13] == when[16] == ":"
    ):  # fmt: skip
        iso = when[:19] + "+00:00"  # what isoformat() gives for 'YYYY-MM-DDTHH:MM:SSZ', faster
    else:
        iso = occurred_at.isoformat()
    fingerprint = _sha1(
        f"('{iso}', {named}{inp}, {out}, {cached}, {written}, {reasoning}, {batch})".encode(),
        usedforsecurity=False,
    ).hexdigest()
    # Draft(**fields) without the frozen dataclass's field-by-field setattr: 5x faster. Every
    # field is given (a test compares this path's Drafts with the full path's), and the
    # fingerprint is what the cached property would compute.
    draft = _new(Draft)
    _setattr(
        draft,
        "__dict__",
        {
            "request_id": request_id,
            "occurred_at": occurred_at,
            "provider": provider,
            "model_raw": model,
            "input_tokens": inp,
            "output_tokens": out,
            "cached_input_tokens": cached,
            "cache_write_input_tokens": written,
            "reasoning_tokens": reasoning,
            "batch": batch,
            "status_code": status_code,
            "is_error": is_error or (status_code is not None and status_code >= 400),
            "retry_of": retry_of,
            "attempt": attempt,
            "provider_response_id": response_id,
            "user_ref": user_ref,
            "gateway_key_id": gateway_key_id,
            "provider_account": account,
            "cache_hit": False,
            "tags": tags,
            "fingerprint": fingerprint,
            "occurred_iso": iso,
        },
    )
    return draft


_UTC = dt.UTC
_fromisoformat = dt.datetime.fromisoformat
_sha1 = hashlib.sha1
_new = object.__new__
_setattr = object.__setattr__
_NAMES_REPR: dict[tuple[str, str], str] = {}


def _validate_any(
    record: Mapping[str, Any],
    *,
    now: dt.datetime,
    required_tags: Sequence[str] = (),
    key_defaults: Mapping[str, Mapping[str, str]] | None = None,
) -> Draft | list[Reason]:
    """Any record, with every problem found (the reference behaviour)."""
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
        problem = "cache reads and writes are parts of input_tokens and exceed it"
        reasons.append(Reason("cached_input_tokens", problem, "bad_tokens"))
    if tokens["reasoning_tokens"] > tokens["output_tokens"]:
        problem = "reasoning tokens are part of output_tokens and exceed it"
        reasons.append(Reason("reasoning_tokens", problem, "bad_tokens"))
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
    cache_hit = _bool(r.get("cache_hit", False))
    if cache_hit is None:
        reasons.append(Reason("cache_hit", "must be true or false", "bad_type"))
    if USAGE in r:
        problem = "must be an OpenAI or Anthropic usage object with whole-number counts"
        reasons.append(Reason(USAGE, problem, "bad_type"))
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
        cache_hit=bool(cache_hit),
        tags=tags,
        **tokens,
    )
