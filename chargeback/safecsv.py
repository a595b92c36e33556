"""The product's one CSV writer, safe from spreadsheet formula injection: defusedcsv (a cell
starting with = + - @ | % gets a leading apostrophe, plain numbers such as -12.50 stay) and,
beyond it, a cell starting with a tab or a carriage return, which spreadsheets strip before
reading a formula, and a bare carriage return inside a cell. Use `from chargeback import safecsv as csv` for `writer` and `DictWriter`."""

from __future__ import annotations

import csv as _csv
import io
from collections.abc import Iterable
from typing import Any

from defusedcsv import csv as _defused

QUOTE_MINIMAL = _csv.QUOTE_MINIMAL
WHITESPACE_LEADS = ("\t", "\r", "\n")


def neutralise(value: Any) -> Any:
    """A lead tab/CR/LF gets the apostrophe; a bare CR becomes LF, so the writer quotes the cell
    (with lineterminator "\n" it would leave a CR unquoted, and a spreadsheet would start a new
    row there, whose first cell could be a formula)."""
    if not isinstance(value, str):
        return value
    if value.startswith(WHITESPACE_LEADS):
        value = "'" + value
    return value.replace("\r\n", "\n").replace("\r", "\n")


class _Writer:
    def __init__(self, inner):
        self._inner = inner

    def writerow(self, row: Iterable[Any]):
        return self._inner.writerow([neutralise(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out, *args, **kwargs) -> _Writer:
    return _Writer(_defused.writer(out, *args, **kwargs))


class DictWriter(_csv.DictWriter):
    def __init__(self, out, fieldnames, restval="", extrasaction="raise", dialect="excel", **kw):
        super().__init__(out, fieldnames, restval, extrasaction, dialect, **kw)
        self.writer = writer(out, dialect, **kw)


def download(rows: Iterable[Iterable[Any]], filename: str):
    """A CSV download of `rows` through the safe writer: the one response every CSV page
    answers with (UTF-8, an attachment named `filename`)."""
    from django.http import HttpResponse  # noqa: PLC0415 (this module is also used outside requests)

    out = io.StringIO()
    writer(out, lineterminator="\n").writerows(rows)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
