"""Records that would break the pipeline rather than fail validation ("poison"), found and
worded so that each goes to the quarantine alone and the rest of its batch goes on.

The reader (`records.py`) parses every record that orjson refuses (or reads differently) with
`loads`, which turns an integer of more than `MAX_DIGITS` digits into a `TooManyDigits` marker
instead of raising, and looks at the result with `problem`: a lone surrogate in a string (which
no database can store), a marker, nesting deeper than `MAX_DEPTH`. Anything else that goes
wrong with one record while it is validated, priced or formatted is caught around that record
and worded by `quarantined` (`diagnose` names the field where it can: an `occurred_at` out of
the datetime range, nesting, digits, surrogates). Nothing here is on the fast path: the
well-formed record never reaches it."""

from __future__ import annotations

import json
from typing import Any

from chargeback.usage.context import Quarantined
from chargeback.usage.validation import Reason, flatten, read_time

MAX_DEPTH = 32  # objects and arrays within a record: a usage record has two or three
MAX_DIGITS = 4300  # Python's int-string conversion limit (sys.get_int_max_str_digits)
MAX_SHOWN = 2000  # characters of an unreadable record kept as its raw text


class TooManyDigits:
    """An integer literal too long to read, in place of its value."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"<an integer of {self.digits} digits>"


def parse_int(text: str) -> int | TooManyDigits:
    digits = len(text) - text.startswith("-")
    return int(text) if digits <= MAX_DIGITS else TooManyDigits(digits)


def loads(text: str) -> Any:
    """json.loads, but an over-long integer is a `TooManyDigits` (RecursionError when nested
    beyond what the parser allows)."""
    return json.loads(text, parse_int=parse_int)


def _surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def problem(value: Any) -> Reason | None:
    """The first thing in a parsed record that would break the pipeline, as a Reason naming
    the field (its dotted path); None if there is none. Walks without recursion."""
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        kind = type(item)
        if kind is str:
            if _surrogate(item):
                return Reason(path or "record", "string: lone surrogate", "encoding")
        elif kind is TooManyDigits:
            where = path or "record"
            return Reason(where, f"too many digits ({item.digits})", "bad_value")
        elif kind is dict or kind is list:
            if depth >= MAX_DEPTH:
                return Reason("record", f"nested too deep (over {MAX_DEPTH} levels)", "too_deep")
            items = item.items() if kind is dict else enumerate(item)
            for key, sub in items:
                if type(key) is str and _surrogate(key):
                    return Reason(path or "record", "string: lone surrogate", "encoding")
                stack.append((f"{path}.{key}" if path else str(key), sub, depth + 1))
    return None


def diagnose(record: Any, exc: BaseException) -> Reason:
    """Why one record could not be processed, naming the field where it can."""
    if isinstance(exc, RecursionError):
        return Reason("record", "nested too deep", "too_deep")
    found = problem(record)
    if found is not None:
        return found
    if isinstance(record, dict):
        try:
            read_time(flatten(record))
        except OverflowError:
            return Reason("occurred_at", "out of range", "bad_timestamp")
        except Exception:  # noqa: BLE001, S110 - only looking for the field to name
            pass
    text = f"{type(exc).__name__}: {exc}"[:300]
    return Reason("record", f"could not be processed ({text})", "unprocessable")


def shown(record: Any) -> str:
    """A record's raw text for the quarantine, whatever it holds (ASCII: surrogates escaped)."""
    try:
        return json.dumps(record, default=repr, sort_keys=True)[: MAX_SHOWN * 100]
    except Exception:  # noqa: BLE001 - too deep, keys of mixed types...
        try:
            return json.dumps(record, default=repr)[: MAX_SHOWN * 100]
        except Exception:  # noqa: BLE001
            return f"<a {type(record).__name__} that cannot be shown>"


def request_id_of(record: Any) -> str:
    try:
        value = record.get("request_id") if isinstance(record, dict) else None
        return value[:200] if isinstance(value, str) else ""
    except Exception:  # noqa: BLE001
        return ""


def quarantined(position: int, record: Any, exc: BaseException) -> Quarantined:
    """One record that raised while it was validated, priced or formatted, as a quarantined
    record with its reason."""
    return Quarantined(position, request_id_of(record), shown(record), [diagnose(record, exc)])
