"""Reading a stored payload as a stream of records, whatever its format; and reading one
stored record (`read_stored`) for the apps that look at quarantined records.

Each record comes out as (position, dict) or (position, RecordError). Positions are line
numbers for NDJSON and CSV (the header is line 1), and 1-based indexes for JSON arrays and
OTLP spans. Nothing is read into memory whole except JSON documents, which are size-limited."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson

from chargeback.usage import poison
from chargeback.usage.adapters import otel, redact
from chargeback.usage.adapters.litellm import from_litellm
from chargeback.usage.validation import Reason, flatten, read_time, token_count
from chargeback.wording import json_problem

FORMATS = ("json", "ndjson", "csv", "otel", "litellm")
MAX_JSON_DOCUMENT = 64 * 1024 * 1024
CSV_REQUIRED = ("request_id", "occurred_at", "provider", "model", "input_tokens", "output_tokens")
CSV_TAGS = ("team", "service", "cost_center", "environment", "workflow", "prompt_template")


@dataclass(frozen=True)
class RecordError:
    raw: str
    field: str
    problem: str
    code: str = "malformed"


class PayloadError(ValueError):
    """The payload as a whole cannot be read (not a record-level problem)."""


Record = tuple[int, dict[str, Any] | RecordError]


def read_records(stream: IO[bytes], fmt: str, *, first_line: int = 1) -> Iterator[Record]:
    """(position, record or RecordError) for each record. `first_line`: the number of the
    stream's first line, for NDJSON read from the middle of a payload (preparer processes)."""
    if fmt == "ndjson":
        yield from _ndjson(stream, first_line)
    elif fmt == "csv":
        yield from _without_nul(_csv(stream))
    elif fmt == "json":
        yield from _without_nul(_json_array(stream))
    elif fmt == "litellm":
        for position, record in _without_nul(_litellm_rows(stream)):
            yield position, record if isinstance(record, RecordError) else _litellm(record)
    elif fmt == "otel":
        yield from _without_nul(_otlp(stream))
    else:
        raise PayloadError(f'unknown format "{fmt}" (one of {", ".join(FORMATS)})')


NUL_PROBLEM = "contains a NUL character (\\u0000), which cannot be stored"


def printable(text: str) -> str:
    """Raw text safe to store: NUL characters written as the escape \\u0000, lone surrogates
    as theirs (\\ud800)."""
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\u0000")


def _has_nul(value: Any) -> bool:
    if type(value) is str:
        return "\x00" in value
    if type(value) is dict:
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if type(value) is list:
        return any(_has_nul(v) for v in value)
    return False


def _without_nul(records: Iterator[Record]) -> Iterator[Record]:
    for position, record in records:
        if not isinstance(record, RecordError) and _has_nul(record):
            raw = printable(json.dumps(record, default=str, sort_keys=True))
            yield position, RecordError(raw, "record", NUL_PROBLEM, "bad_value")
        elif not isinstance(record, RecordError) and (found := poison.problem(record)):
            raw = printable(poison.shown(record))
            yield position, RecordError(raw, found.field, found.problem, found.code)
        else:
            yield position, record


def _ndjson(stream: IO[bytes], first_line: int = 1) -> Iterator[Record]:
    """Lines are read in blocks. A block with no NUL (raw or escaped) and no run of 19 digits
    (the only numbers orjson reads differently from json: integers beyond 64 bits become
    floats) takes the fast loop, orjson alone; any other line takes `_ndjson_line`."""
    number = first_line - 1
    first = first_line == 1
    while lines := stream.readlines(NDJSON_BLOCK):
        if first and lines[0].startswith(b"\xef\xbb\xbf"):
            lines[0] = lines[0][3:]  # a UTF-8 byte-order mark (Excel, Notepad)
        first = False
        block = b"".join(lines)
        if b"\\u0000" in block or b"\x00" in block or _LONG_DIGITS in block.translate(_DIGITS):
            for line in lines:
                number += 1
                yield from _ndjson_line(number, line)
            continue
        for line in lines:
            number += 1
            try:
                obj = _loads(line)
            except _JSONDecodeError:
                obj = None
            if type(obj) is dict:
                yield number, obj
            else:
                yield from _ndjson_line(number, line)


NDJSON_BLOCK = 1 << 16
# Digits -> "9", anything else -> " ": a run of 19 digits is then a plain substring search.
_DIGITS = bytes(57 if 48 <= b <= 57 else 32 for b in range(256))
_LONG_DIGITS = b"9" * 19
_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


def _ndjson_line(number: int, line: bytes) -> Iterator[Record]:
    """One line read with care: whatever it holds, one record or one RecordError."""
    try:
        records = list(_careful_line(number, line))
    except Exception as exc:  # noqa: BLE001 - one line's problem, never the batch's
        reason = poison.diagnose(None, exc)
        raw = printable(line.decode("utf-8", "replace").rstrip("\n"))[: poison.MAX_SHOWN]
        records = [(number, RecordError(raw, reason.field, reason.problem, reason.code))]
    yield from records


def _careful_line(number: int, line: bytes) -> Iterator[Record]:
    if b"\\u0000" in line or b"\x00" in line:
        raw = printable(line.decode("utf-8", "replace").rstrip("\n"))
        yield number, RecordError(raw, "record", f"line {number} {NUL_PROBLEM}", "bad_value")
        return
    try:
        obj = orjson.loads(line)  # the common case, fast; anything odd takes the slow path
    except orjson.JSONDecodeError:
        obj = None
    try:
        if type(obj) is dict and _floatless(obj.values()):
            yield number, obj
            return
    except RecursionError:
        obj = None
    if not line.strip():
        return
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield (
            number,
            RecordError(
                line.decode("utf-8", "replace").rstrip("\n"),
                "record",
                f"not UTF-8 (byte {exc.start})",
                "encoding",
            ),
        )
        return
    try:
        obj = poison.loads(text.rstrip("\r\n"))  # a column on this line, not "line 2, column 1"
    except RecursionError:
        yield (
            number,
            RecordError(
                text.rstrip("\n")[: poison.MAX_SHOWN], "record", "nested too deep", "too_deep"
            ),
        )
        return
    except json.JSONDecodeError as exc:
        yield (
            number,
            RecordError(
                text.rstrip("\n"),
                "record",
                f"malformed JSON at line {number}, column {exc.colno}: {json_problem(exc.msg)}",
            ),
        )
        return
    if not isinstance(obj, dict):
        yield (
            number,
            RecordError(text.rstrip("\n"), "record", f"line {number} is not a JSON object"),
        )
        return
    found = poison.problem(obj)
    if found is not None:
        raw = text.rstrip("\n")[: poison.MAX_SHOWN * 100]
        yield number, RecordError(raw, found.field, found.problem, found.code)
        return
    yield number, obj


def _floatless(values: Iterable[Any]) -> bool:
    """No floats anywhere: orjson reads integers of 19+ digits as floats, json as ints, so a
    record with a float is read again with json."""
    for value in values:
        kind = type(value)
        if kind is float:
            return False
        if kind is dict:
            if not _floatless(value.values()):
                return False
        elif kind is list and not _floatless(value):
            return False
    return True


def check_csv_header(first_line: str) -> list[str]:
    """Missing required columns, for a quick check before a batch is accepted."""
    header = next(csv.reader([first_line.lstrip("\ufeff")]), [])
    return [c for c in CSV_REQUIRED if c not in {h.strip() for h in header}]


def _csv(stream: IO[bytes]) -> Iterator[Record]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.DictReader(text)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        raise PayloadError(f"CSV header: missing column(s) {', '.join(missing)}")
    reader.fieldnames = header
    ended = reader.line_num  # the line the previous row ended on
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a cell beyond csv's field limit: this row only
            line, ended = reader.line_num, reader.line_num
            yield line, RecordError("", "record", f"line {line}: {exc}", "malformed")
            continue
        line, started, ended = reader.line_num, ended + 1, reader.line_num
        raw = ",".join(v if isinstance(v, str) else "" for v in row.values() if v is not None)
        if None in row:
            yield line, RecordError(raw, "record", f"line {line}: more cells than columns")
            continue
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in row.values()):
            continue  # a blank row (separators only, as spreadsheets leave them): skipped
        if any(v is None for v in row.values()) and any(
            isinstance(v, str) and ("\n" in v or '"' in v) for v in row.values()
        ):
            # A quote that is never closed swallows the rest of the row (and the lines after
            # it) into one cell: say so, rather than name the columns that came up empty.
            problem = f'line {started}: a quoted cell is not closed (a " with no closing ")'
            yield started, RecordError(raw, "record", problem)
            continue
        if any(isinstance(v, str) and _has_surrogates(v) for v in row.values()):
            yield (
                line,
                RecordError(
                    raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
                    "record",
                    f"line {line}: not UTF-8",
                    "encoding",
                ),
            )
            continue
        record: dict[str, Any] = {
            k: v for k, v in row.items() if k not in CSV_TAGS and v not in (None, "")
        }
        tags = {k: row[k] for k in CSV_TAGS if row.get(k)}
        if tags:
            record["tags"] = tags
        yield line, record


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def _load_json(stream: IO[bytes]) -> Any:
    data = stream.read(MAX_JSON_DOCUMENT + 1)
    if len(data) > MAX_JSON_DOCUMENT:
        raise PayloadError(
            f"JSON documents are limited to {MAX_JSON_DOCUMENT // (1024 * 1024)} MB: use NDJSON for larger files"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"not UTF-8 (byte {exc.start})") from exc
    try:
        return poison.loads(text)
    except RecursionError as exc:
        raise PayloadError("the JSON document is nested too deep") from exc
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"malformed JSON at line {exc.lineno}, column {exc.colno}: {json_problem(exc.msg)}"
        ) from exc


def _json_array(stream: IO[bytes]) -> Iterator[Record]:
    data = _load_json(stream)
    if isinstance(data, dict):
        data = data.get("events", data.get("data", [data]))
    if not isinstance(data, list):
        raise PayloadError("expected a JSON array of events")
    for index, obj in enumerate(data, start=1):
        if not isinstance(obj, dict):
            yield (
                index,
                RecordError(
                    printable(poison.shown(obj))[:2000],
                    "record",
                    f"item {index} is not a JSON object",
                ),
            )
        else:
            yield index, obj


def _otlp(stream: IO[bytes]) -> Iterator[Record]:
    """OTLP/JSON traces: one record per model call (`adapters/otel.py`)."""
    data = _load_json(stream)
    if not isinstance(data, dict) or "resourceSpans" not in data:
        raise PayloadError('expected an OTLP JSON document with "resourceSpans"')
    yield from enumerate(otel.spans(data), start=1)


def _litellm_rows(stream: IO[bytes]) -> Iterator[Record]:
    """LiteLLM spend logs: a JSON array, `{"data": [...]}`, or one row per line (NDJSON,
    told apart by a first line that is a whole row)."""
    head = stream.readline()
    first = head.lstrip(b"\xef\xbb\xbf").strip()
    try:
        row = orjson.loads(first) if first.startswith(b"{") else None
    except orjson.JSONDecodeError:
        row = None
    rest = io.BytesIO(head + stream.read())
    if isinstance(row, dict) and not isinstance(row.get("data"), list):
        yield from _ndjson(rest)
    else:
        yield from _json_array(rest)


def _litellm(row: dict[str, Any]) -> dict[str, Any] | RecordError:
    try:
        return from_litellm(row)
    except Exception as exc:  # noqa: BLE001 - one row's problem, never the batch's
        reason = poison.diagnose(row, exc)
        return RecordError(
            printable(poison.shown(redact.strip(row))), reason.field, reason.problem, reason.code
        )


@dataclass(frozen=True)
class Stored:
    """What can be read of a stored record that may not validate (a quarantined one): its time
    and token counts exactly as validation reads them (aliases applied), None or 0 where
    validation would refuse the field."""

    occurred_at: dt.datetime | None
    input_tokens: int
    output_tokens: int


def read_stored(raw: str) -> Stored:
    """A stored record's text (a quarantined record's `raw`: a JSON object, or the line as it
    came when it was not one), read by validation's rules. The one reader of a stored record
    outside the pipeline: billing reads quarantined records with it."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        record = None
    if not isinstance(record, dict):
        return Stored(None, 0, 0)
    flat = flatten(record)
    when = read_time(flat)
    return Stored(
        None if isinstance(when, Reason) else when,
        token_count(flat, "input_tokens"),
        token_count(flat, "output_tokens"),
    )
