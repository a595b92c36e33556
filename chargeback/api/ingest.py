"""Machine endpoints authenticated with an ingestion key: post usage, read a batch."""

from __future__ import annotations

import contextlib
import json

import orjson
from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from chargeback.api.auth import NOT_AUTHENTICATED, IngestionKeyAuthentication, key_from_header
from chargeback.tenancy.scoping import within
from chargeback.usage import poison
from chargeback.usage.ingest import create_batch
from chargeback.usage.models import IngestBatch, IngestionKey, QuarantinedEvent
from chargeback.wording import json_problem

CONTENT_TYPES = {
    "application/json": "json",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "application/jsonl": "ndjson",
}


class BatchSerializer(serializers.ModelSerializer):
    class Meta:
        model = IngestBatch
        fields = [
            "id", "status", "source", "format", "received", "accepted", "duplicates", "quarantined",
            "records_done", "error", "created_at", "started_at", "finished_at",
        ]  # fmt: skip


class KeyAPIView(APIView):
    authentication_classes = [IngestionKeyAuthentication]
    permission_classes = [permissions.IsAuthenticated]
    parser_classes: list = []

    @property
    def key(self):
        return self.request.auth

    def permission_denied(self, request, message=None, code=None):
        """With no key at all, say which header is missing (DRF's wording names none)."""
        if request.authenticators and not request.successful_authenticator:
            raise exceptions.NotAuthenticated(NOT_AUTHENTICATED)
        super().permission_denied(request, message=message, code=code)

    def dispatch(self, request, *args, **kwargs):
        # The key is known only once DRF has authenticated it (in `initial`); the scope it
        # opens there is left here whatever happens, an unhandled error included.
        with contextlib.ExitStack() as self._scopes:
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._scopes.enter_context(within(request.auth.organization))


def _error(code: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=code)


class EventTagsSerializer(serializers.Serializer):
    team = serializers.CharField(required=False, help_text="A unit's code or name.")
    service = serializers.CharField(required=False)
    cost_center = serializers.CharField(required=False)
    environment = serializers.CharField(required=False, help_text="e.g. production, staging.")
    workflow = serializers.CharField(required=False)
    prompt_template = serializers.CharField(required=False)


class UsageEventDocSerializer(serializers.Serializer):
    """The usage event, for the API docs only: the pipeline validates records itself
    (`usage/validation.py`) and quarantines what fails, naming the field."""

    request_id = serializers.CharField(
        max_length=200, help_text="Unique per organisation: a repeat is a duplicate."
    )
    occurred_at = serializers.DateTimeField(
        help_text="ISO 8601 with an offset (2026-10-03T14:22:05Z)."
    )
    provider = serializers.CharField(
        max_length=60, help_text="openai, anthropic, google, bedrock, mistral, ..."
    )
    model = serializers.CharField(
        max_length=200,
        help_text="As the provider names it: dated snapshots and vendor prefixes are normalised.",
    )
    input_tokens = serializers.IntegerField(
        min_value=0, help_text="All input, cache reads and writes included."
    )
    output_tokens = serializers.IntegerField(
        min_value=0, help_text="All output, reasoning included."
    )
    cached_input_tokens = serializers.IntegerField(
        min_value=0, required=False, help_text="The part of input_tokens read from the cache."
    )
    cache_write_input_tokens = serializers.IntegerField(
        min_value=0, required=False, help_text="The part of input_tokens written to the cache."
    )
    reasoning_tokens = serializers.IntegerField(
        min_value=0, required=False, help_text="The part of output_tokens spent reasoning."
    )
    batch = serializers.BooleanField(required=False, help_text="Priced at batch rates.")
    status_code = serializers.IntegerField(
        required=False, allow_null=True, min_value=100, max_value=599
    )
    is_error = serializers.BooleanField(required=False)
    gateway_key_id = serializers.CharField(
        required=False, help_text="The gateway's key id, mapped to a unit."
    )
    provider_account = serializers.CharField(
        required=False, help_text="The provider's account or project, mapped to a unit."
    )
    retry_of = serializers.CharField(
        required=False, allow_null=True, help_text="The request_id this one retries."
    )
    attempt = serializers.IntegerField(required=False, min_value=1)
    provider_response_id = serializers.CharField(required=False)
    user_ref = serializers.CharField(
        required=False, help_text="An opaque user reference, never personal data."
    )
    tags = EventTagsSerializer(
        required=False,
        help_text="Tag names may also be given at the top level of the event (team, service, ...).",
    )
    usage = serializers.DictField(
        required=False,
        help_text=(
            "A provider's raw usage object in place of the token fields: OpenAI's "
            "(prompt_tokens includes cached tokens) or Anthropic's (input_tokens excludes cache "
            "reads and writes), converted to the token classes above."
        ),
    )
    cache_hit = serializers.BooleanField(
        required=False, help_text="Served from a gateway's cache: counted, never charged."
    )


_datetime = serializers.DateTimeField()


def _received(request, batch: IngestBatch) -> dict:
    """What BatchSerializer gives for a batch just received, built by hand (it is the hot path;
    a test compares the two), with the batch id and its status URL."""
    data = {
        "id": batch.pk, "status": batch.status, "source": batch.source, "format": batch.format,
        "received": batch.received, "accepted": batch.accepted, "duplicates": batch.duplicates,
        "quarantined": batch.quarantined, "records_done": batch.records_done,
        "error": batch.error, "created_at": _datetime.to_representation(batch.created_at),
        "started_at": None, "finished_at": None,
    }  # fmt: skip
    data["batch_id"] = batch.pk
    data["status_url"] = request.build_absolute_uri(
        reverse("api:ingest-batch", kwargs={"batch_id": batch.pk})
    )
    return data


def _json_problem(body: bytes, text: str) -> str:
    """Why a JSON body is not an array (or object) of events; "" if it is one. orjson checks the
    usual, valid body several times faster than the standard library, which words the errors
    (and still decides what orjson refuses but it accepts, such as NaN)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            data = poison.loads(text)
        except json.JSONDecodeError as exc:
            return (
                f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {json_problem(exc.msg)}."
            )
        except RecursionError:
            return "The JSON is nested too deeply."
        found = poison.problem(data)  # an integer too long, nesting, a lone surrogate
        if found is not None:
            return f"{found.field}: {found.problem}."
    if not isinstance(data, list | dict):
        return "Expected a JSON array of event objects."
    if data == []:
        return "The array is empty: send at least one event."
    return ""


class UsageEvents(KeyAPIView):
    @extend_schema(
        summary="Post usage events",
        description=(
            "A JSON array of usage events (Content-Type: application/json) or one event per line "
            "(Content-Type: application/x-ndjson). Answers 202 once the raw payload is stored; "
            "processing is asynchronous: poll the batch."
        ),
        request={
            "application/json": UsageEventDocSerializer(many=True),
            "application/x-ndjson": OpenApiTypes.STR,
        },
        responses={
            202: BatchSerializer,
            400: OpenApiResponse(description="Empty, malformed or non-UTF-8 body"),
            401: OpenApiResponse(description="Missing, unknown or revoked key"),
            411: OpenApiResponse(description="No Content-Length (a chunked body)"),
            413: OpenApiResponse(description="Payload above the limit"),
            415: OpenApiResponse(description="Unsupported content type"),
        },
        examples=[
            OpenApiExample(
                "One event",
                value=[
                    {
                        "request_id": "req-8f2c",
                        "occurred_at": "2026-10-03T14:22:05Z",
                        "provider": "openai",
                        "model": "gpt-4o-mini-2024-07-18",
                        "input_tokens": 1200,
                        "output_tokens": 300,
                        "gateway_key_id": "gk-support-prod",
                        "tags": {"team": "support", "environment": "production"},
                    }
                ],
                request_only=True,
            )
        ],  # fmt: skip
    )
    def post(self, request):
        return receive(request._request, self.key)  # reached only through DRF (see dispatch)

    def dispatch(self, request, *args, **kwargs):
        """POST, the ingestion hot path, skips DRF's request wrapping, content negotiation and
        exception handling (about a tenth of the request's CPU): the same key check and the
        same answers, as plain JSON. Other methods (405, OPTIONS) go through DRF."""
        if request.method != "POST":
            return super().dispatch(request, *args, **kwargs)
        key, problem = key_from_header(request.META.get("HTTP_AUTHORIZATION", ""))
        if key is None:
            response = _error(status.HTTP_401_UNAUTHORIZED, problem or NOT_AUTHENTICATED)
            response["WWW-Authenticate"] = IngestionKeyAuthentication.keyword
            return response
        with within(key.organization):
            return receive(request, key)


def receive(request: HttpRequest, key: IngestionKey) -> JsonResponse:
    """Check a posted body (size, content type, encoding, JSON shape) and store it as a
    `received` batch: 202 with the batch, or the error that names what is wrong."""
    limit = settings.INGEST_MAX_BYTES
    if not request.META.get("CONTENT_LENGTH") and request.META.get("HTTP_TRANSFER_ENCODING"):
        return _error(
            status.HTTP_411_LENGTH_REQUIRED,
            "Send the body with a Content-Length header: chunked transfer encoding is not read.",
        )
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        return _error(
            413,
            f"The payload is {int(declared):,} bytes; the limit is {limit:,} bytes. Split it into smaller batches.",
        )
    body = request.body
    if len(body) > limit:
        return _error(413, f"The payload is {len(body):,} bytes; the limit is {limit:,} bytes.")
    if not body.strip():
        return _error(400, "The body is empty: send a JSON array of events or NDJSON lines.")
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    fmt = CONTENT_TYPES.get(content_type)
    if fmt is None:
        return _error(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f'Content-Type "{content_type or "(none)"}" is not supported: use application/json or application/x-ndjson.',
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _error(400, f"The body is not UTF-8 (invalid byte at offset {exc.start}).")
    if fmt == "json":
        problem = _json_problem(body, text)
        if problem:
            return _error(400, problem)
    # The body is stored as it came (bytes): records are read and counted by the worker.
    batch = create_batch(
        organization=key.organization, payload=body, fmt=fmt, source="api",
        created_by=f"key:{key.name}",
    )  # fmt: skip
    return JsonResponse(_received(request, batch), status=status.HTTP_202_ACCEPTED)


QUARANTINE_SAMPLE = 20
SAMPLE_REASONS = 10  # reasons shown per sampled record
SAMPLE_TEXT = 300  # characters of a reason's problem, a field name or a request id


def _cut(text: str) -> str:
    return text if len(text) <= SAMPLE_TEXT else text[: SAMPLE_TEXT - 1] + "…"


class SampleReasonSerializer(serializers.Serializer):
    field = serializers.CharField()
    problem = serializers.CharField()
    code = serializers.CharField()


class QuarantineSampleSerializer(serializers.ModelSerializer):
    """A quarantined record in a batch's status: its first SAMPLE_REASONS reasons, each cut
    to SAMPLE_TEXT characters, and how many more it has."""

    request_id = serializers.SerializerMethodField()
    reasons = serializers.SerializerMethodField()
    more_reasons = serializers.SerializerMethodField()

    class Meta:
        model = QuarantinedEvent
        fields = ["id", "line", "request_id", "reasons", "more_reasons", "status"]

    def get_request_id(self, q: QuarantinedEvent) -> str:
        return _cut(q.request_id)

    @extend_schema_field(SampleReasonSerializer(many=True))
    def get_reasons(self, q: QuarantinedEvent) -> list[dict]:
        reasons = q.reasons if isinstance(q.reasons, list) else []
        return [
            {k: _cut(str(r.get(k, ""))) for k in ("field", "problem", "code")}
            for r in reasons[:SAMPLE_REASONS]
            if isinstance(r, dict)
        ]

    def get_more_reasons(self, q: QuarantinedEvent) -> int:
        reasons = q.reasons if isinstance(q.reasons, list) else []
        return max(0, len(reasons) - SAMPLE_REASONS)


class BatchDetailSerializer(BatchSerializer):
    """The counts, and why records were quarantined: the number per reason code (each record
    under its first reason) and the first records (by line) with every reason, so a client can
    act without the web pages."""

    quarantined_by_reason = serializers.SerializerMethodField()
    quarantine_sample = serializers.SerializerMethodField()

    class Meta(BatchSerializer.Meta):
        fields = [*BatchSerializer.Meta.fields, "quarantined_by_reason", "quarantine_sample"]

    def get_quarantined_by_reason(self, batch: IngestBatch) -> dict[str, int]:
        rows = (
            QuarantinedEvent.objects.filter(organization=batch.organization, batch=batch)
            .values_list("reason")
            .annotate(n=Count("id"))
            .order_by("reason")
        )
        return dict(rows)

    @extend_schema_field(QuarantineSampleSerializer(many=True))
    def get_quarantine_sample(self, batch: IngestBatch) -> list[dict]:
        sample = QuarantinedEvent.objects.filter(
            organization=batch.organization, batch=batch
        ).order_by("line", "id")[:QUARANTINE_SAMPLE]
        return QuarantineSampleSerializer(sample, many=True).data


class IngestBatchDetail(KeyAPIView):
    @extend_schema(
        summary="An ingest batch's status and counts, and why records were quarantined",
        responses={200: BatchDetailSerializer, 404: OpenApiResponse(description="No such batch")},
    )
    def get(self, request, batch_id: int):
        batch = IngestBatch.objects.filter(organization=self.key.organization, pk=batch_id).first()
        if batch is None:
            return Response({"detail": f"No batch {batch_id} in this organisation."}, status=404)
        return Response(BatchDetailSerializer(batch).data)
