"""POST /api/v1/outcomes: outcome counts for activity rates, authenticated with an organisation
ingestion key. The logic is in chargeback.billing.outcomes."""

from __future__ import annotations

import json

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from chargeback.api.ingest import KeyAPIView
from chargeback.api.serializers import (
    OutcomeErrorSerializer,
    OutcomeImportSerializer,
    OutcomeRecordSerializer,
)
from chargeback.billing.outcomes import OutcomeError, import_outcomes, parse_records
from chargeback.usage import poison
from chargeback.wording import json_problem


def _error(code: int, detail: str) -> Response:
    return Response({"detail": detail, "errors": []}, status=code)


class Outcomes(KeyAPIView):
    @extend_schema(
        summary="Post outcome counts",
        description=(
            "One record `{unit, month, outcome, count}` or a JSON array of them: the unit's "
            "cost-center code, the month (YYYY-MM), the outcome name ([a-z0-9_]+) and a whole "
            "number >= 0. A count for a (unit, month, outcome) already stored replaces it. "
            "All or nothing: if any record is bad, nothing is written and the answer (400) "
            "lists every problem with the record's index (from 0) and field."
        ),
        request={"application/json": OutcomeRecordSerializer(many=True)},
        responses={
            200: OutcomeImportSerializer,
            400: OutcomeErrorSerializer,
            401: OpenApiResponse(description="Missing, unknown or revoked key"),
            413: OpenApiResponse(description="Payload above the limit"),
            415: OpenApiResponse(description="Content-Type is not application/json"),
        },
        examples=[
            OpenApiExample(
                "Two counts",
                value=[
                    {
                        "unit": "SUP",
                        "month": "2026-10",
                        "outcome": "resolved_ticket",
                        "count": 1200,
                    },
                    {"unit": "SALES", "month": "2026-10", "outcome": "draft", "count": 340},
                ],
                request_only=True,
            )
        ],
    )
    def post(self, request):
        body = request.body
        limit = settings.INGEST_MAX_BYTES
        if len(body) > limit:
            return _error(413, f"The payload is {len(body):,} bytes; the limit is {limit:,} bytes.")
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return _error(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                f'Content-Type "{content_type or "(none)"}" is not supported: use application/json.',
            )
        try:
            data = json.loads(
                body.decode("utf-8"), parse_float=_no_float, parse_int=poison.parse_int
            )
        except RecursionError:
            return _error(400, "The JSON is nested too deeply.")
        except UnicodeDecodeError as exc:
            return _error(400, f"The body is not UTF-8 (invalid byte at offset {exc.start}).")
        except json.JSONDecodeError as exc:
            return _error(
                400,
                f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {json_problem(exc.msg)}.",
            )
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            return _error(400, "Expected a JSON object or an array of objects.")
        found = poison.problem(data)
        if found is not None:
            return _error(400, f"{found.field}: {found.problem}.")
        organization = self.key.organization
        try:
            records = parse_records(organization, enumerate(data))
            result = import_outcomes(
                organization=organization,
                records=records,
                actor=f"key:{self.key.name}",
                source="api",
            )
        except OutcomeError as exc:
            n = len(exc.problems)
            return Response(
                {
                    "detail": f"{n} problem{'' if n == 1 else 's'}: nothing was written.",
                    "errors": [p.as_json() for p in exc.problems],
                },
                status=400,
            )
        return Response(OutcomeImportSerializer(result).data)


def _no_float(text: str) -> str:
    """A JSON number with a fraction stays text, so the count check names it exactly."""
    return text
