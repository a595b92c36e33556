"""Small helpers for the words of messages and documents."""

from __future__ import annotations


def plural(n: int, noun: str) -> str:
    """`plural(1, "event")` is "1 event"; `plural(1200, "event")` is "1,200 events"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
