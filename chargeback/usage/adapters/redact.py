"""Prompt and completion text is never stored: not in events, not in quarantine, not in the
stored payload. The OTel and LiteLLM payloads are rewritten without it when they are received
(`stripped_payload`, before the file is written); a quarantined record's text is written
without it (`strip`). What counts as content: an attribute or key whose name has a segment
`messages`, `prompt(s)`, `completion(s)`, `content`, `choices`, and the names in `CONTENT`."""

from __future__ import annotations

import json
from typing import IO, Any

WORDS = frozenset(
    {"messages", "prompt", "prompts", "completion", "completions", "content", "choices"}
)
CONTENT = frozenset({
    "gen_ai.system_instructions", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result",
    "gen_ai.tool.definitions", "input.value", "output.value", "traceloop.entity.input",
    "traceloop.entity.output", "proxy_server_request", "metadata.proxy_server_request",
    "metadata.messages", "response", "messages", "llm.input_messages", "llm.output_messages",
})  # fmt: skip
KEPT_OF_RESPONSE = ("id", "model")  # a LiteLLM row's response: only what prices it


def is_content(name: str) -> bool:
    return name in CONTENT or not WORDS.isdisjoint(name.lower().split("."))


def strip(value: Any) -> Any:
    """A JSON value without content keys (at any depth); an OTLP attribute list loses the
    attributes whose key is content. A LiteLLM `response` keeps its id and model."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "response" and isinstance(v, dict):
                out[k] = {x: v[x] for x in KEPT_OF_RESPONSE if x in v}
            elif k == "response" and isinstance(v, str) and v.strip().startswith("{"):
                try:
                    out[k] = strip({k: json.loads(v)})[k]
                except json.JSONDecodeError:
                    continue
            elif not (isinstance(k, str) and is_content(k)):
                out[k] = strip(v)
        return out
    if isinstance(value, list):
        return [
            strip(v)
            for v in value
            if not (isinstance(v, dict) and isinstance(v.get("key"), str) and is_content(v["key"]))
        ]
    return value


class Unreadable(ValueError):
    """A payload that cannot be read to remove its content, so it is not stored."""


def stripped_payload(payload: bytes | IO[bytes], fmt: str) -> bytes:
    """An OTel or LiteLLM payload without prompt or completion text, as bytes to store.
    A JSON document is rewritten whole; NDJSON line by line (a line that is not JSON is kept
    only if no content name appears in it, else replaced by a JSON string saying so)."""
    data = payload if isinstance(payload, bytes) else payload.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not UTF-8 (byte {exc.start})") from None
    try:
        return json.dumps(strip(json.loads(text)), ensure_ascii=False).encode()
    except RecursionError:
        raise Unreadable("the JSON document is nested too deep") from None
    except json.JSONDecodeError:
        if fmt != "litellm":
            raise Unreadable("expected an OTLP JSON document") from None
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.dumps(strip(json.loads(line)), ensure_ascii=False))
        except (json.JSONDecodeError, RecursionError):
            keep = not any(w in line.lower() for w in WORDS)
            lines.append(line if keep else '"line removed: not JSON, and it may hold message text"')
    return ("\n".join(lines) + "\n").encode()
