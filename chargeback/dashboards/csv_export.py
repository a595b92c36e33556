"""CSV downloads of the dashboards' tables, formula-injection safe (defusedcsv)."""

from __future__ import annotations

import io

from defusedcsv import csv
from django.http import HttpResponse


def csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def csv_response(rows: list[list[str]], filename: str) -> HttpResponse:
    response = HttpResponse(csv_text(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
