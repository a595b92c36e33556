"""CSV downloads of the reconciliation pages, formula-injection safe (defusedcsv)."""

from __future__ import annotations

import io

from django.http import HttpResponse

from chargeback import safecsv as csv


def csv_response(rows: list[list[str]], filename: str) -> HttpResponse:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
