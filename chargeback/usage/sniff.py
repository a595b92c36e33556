"""Which format a usage file is in when nobody said: from its name, then from its first bytes.
The one rule the upload form and `ingest_events` share. A JSON or NDJSON file is an OTLP
document when it is an object with `resourceSpans`, and LiteLLM spend logs when its first row
has LiteLLM's `spend` and `startTime` (no native event has either field)."""

from __future__ import annotations

from pathlib import PurePath

# file extension -> format, for the formats a name can tell
EXTENSIONS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "json"}
HEAD = 64 * 1024  # how much of the file is looked at
LITELLM_KEYS = (b'"spend"', b'"startTime"')


def by_content(fmt: str, head: bytes) -> str:
    """`fmt` (from the file's name) made precise by the file's first bytes: "otel" or
    "litellm" for a JSON or NDJSON file that is one, else `fmt` unchanged."""
    if fmt not in ("json", "ndjson"):
        return fmt
    head = head[:HEAD]
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") and b'"resourceSpans"' in head:
        return "otel"
    if all(key in head for key in LITELLM_KEYS):
        return "litellm"
    return fmt


def detect(name: str, head: bytes) -> str | None:
    """The format of a file named `name` starting with `head`; None when the name ends in no
    usage file's extension."""
    fmt = EXTENSIONS.get(PurePath(name).suffix.lower())
    return None if fmt is None else by_content(fmt, head)
