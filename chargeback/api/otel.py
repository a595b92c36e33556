"""`POST /api/v1/otel/v1/traces`: an OpenTelemetry collector's (or SDK's) OTLP/HTTP exporter
posts traces here with the ingestion key, and the GenAI spans become a usage batch exactly as
`ingest_events --format otel` makes one from the collector's file. OTLP/JSON or OTLP protobuf
(read into the same JSON document, `usage/adapters/otlp_proto.py`); the message text is removed
before the payload is stored."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status

from chargeback.api.ingest import KeyAPIView
from chargeback.usage.adapters.otlp_proto import EMPTY_RESPONSE, NotOtlp, to_otlp_json
from chargeback.usage.adapters.redact import Unreadable
from chargeback.usage.ingest import create_batch
from chargeback.usage.models import IngestionKey

JSON_TYPES = ("application/json",)
PROTOBUF_TYPES = ("application/x-protobuf", "application/protobuf")


def _error(code: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=code)


class OtlpTraces(KeyAPIView):
    @extend_schema(
        summary="Post OpenTelemetry traces (OTLP/HTTP, JSON or protobuf)",
        description=(
            "An ExportTraceServiceRequest in OTLP/JSON (`resourceSpans`) or in protobuf "
            "(Content-Type: application/x-protobuf, answered in protobuf; not in the schema "
            "below, which is the JSON form). Spans with GenAI "
            "usage become usage events; other spans and attributes are ignored; prompt and "
            "completion text is removed before anything is stored. Answers 200 with an "
            "ExportTraceServiceResponse once stored; the batch's URL is in the Location header."
        ),
        request={
            "application/json": inline_serializer(
                "ExportTraceServiceRequest",
                {
                    "resourceSpans": serializers.ListField(
                        child=serializers.DictField(),
                        help_text="OTLP ResourceSpans: resource attributes and scopeSpans.",
                    )
                },
            ),
        },
        responses={
            200: OpenApiResponse(description='Stored: {"partialSuccess": {}}'),
            400: OpenApiResponse(description="Empty body, not JSON, or no resourceSpans"),
            401: OpenApiResponse(description="Missing, unknown or revoked key"),
            413: OpenApiResponse(description="Payload above the limit"),
            415: OpenApiResponse(description="Neither application/json nor application/x-protobuf"),
        },
    )
    def post(self, request):
        return receive_traces(request._request, self.key)


def receive_traces(request: HttpRequest, key: IngestionKey) -> HttpResponse:
    limit = settings.INGEST_MAX_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        return _error(413, f"The payload is {int(declared):,} bytes; the limit is {limit:,} bytes.")
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    protobuf = content_type in PROTOBUF_TYPES
    if content_type not in JSON_TYPES and not protobuf:
        return _error(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f'Content-Type "{content_type or "(none)"}" is not supported: send OTLP/JSON '
            "(application/json) or OTLP protobuf (application/x-protobuf).",
        )
    body = request.body
    if len(body) > limit:
        return _error(413, f"The payload is {len(body):,} bytes; the limit is {limit:,} bytes.")
    if protobuf:
        try:
            data = to_otlp_json(body)
            data.setdefault("resourceSpans", [])  # an empty request (protobuf omits the list)
        except NotOtlp as exc:
            return _error(400, f"The body is {exc}.")
        body = json.dumps(data).encode()  # stored as OTLP/JSON, read as the JSON post is
    else:
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return _error(
                400, "The body is not OTLP/JSON: expected a JSON object with resourceSpans."
            )
    if not isinstance(data, dict) or not isinstance(data.get("resourceSpans"), list):
        return _error(400, "resourceSpans: required, a list (an OTLP ExportTraceServiceRequest).")
    for index, item in enumerate(data["resourceSpans"]):
        if not isinstance(item, dict):
            return _error(400, f"resourceSpans[{index}]: must be an object (a ResourceSpans).")
    try:
        batch = create_batch(
            organization=key.organization, payload=body, fmt="otel", source="api",
            created_by=f"key:{key.name}",
        )  # fmt: skip
    except Unreadable as exc:
        return _error(400, f"The body cannot be read: {exc}.")
    if protobuf:  # an ExportTraceServiceResponse, as the exporter expects
        response = HttpResponse(EMPTY_RESPONSE, content_type="application/x-protobuf")
    else:
        response = JsonResponse({"partialSuccess": {}}, status=200)
    response["Location"] = request.build_absolute_uri(
        reverse("api:ingest-batch", kwargs={"batch_id": batch.pk})
    )
    return response
