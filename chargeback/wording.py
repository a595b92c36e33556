"""Small helpers for the words of messages and documents."""

from __future__ import annotations


def plural(n: int, noun: str) -> str:
    """`plural(1, "event")` is "1 event"; `plural(1200, "event")` is "1,200 events"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


_JSON_MESSAGES = {
    # The standard library's wording, meant to be followed by a position it gives separately.
    "Invalid control character at": "Invalid control character (a raw tab or line break inside a string)",
    "Unterminated string starting at": "Unterminated string",
}


def json_problem(msg: str) -> str:
    """A `json.JSONDecodeError.msg` that reads as a whole sentence ("Expecting value",
    "Unterminated string"), for messages that give the line and column themselves."""
    return _JSON_MESSAGES.get(msg, msg)
