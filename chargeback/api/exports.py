"""The events export as a streaming API endpoint (session auth under /api/v1/o/<org_slug>/):
`GET events/export?since=30d&format=csv|ndjson|focus[&focus_version=1.0][&unit=CODE]`.

The same export as `export_events` and the browser download (chargeback.dashboards.event_export):
rows are read from the database in chunks and streamed as they are written, so nothing is held
whole. Finance, admins and viewers export every unit; a team lead only its units' subtrees (a
unit out of reach, or unknown, answers 404)."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import BaseContentNegotiation

from chargeback.api.base import OrgAPIView
from chargeback.dashboards import event_export


class JsonErrorsOnly(BaseContentNegotiation):
    """The export answers with its own streaming response; only errors go through a renderer,
    always JSON. (`format` is the export's parameter here, not DRF's renderer override.)"""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


PARAMETERS = [
    OpenApiParameter(
        "since",
        {
            "type": "string",
            "oneOf": [{"pattern": "^[0-9]{1,4}d$"}, {"format": "date"}],
        },
        description="The last N days with today (30d, the default) or a first day (YYYY-MM-DD).",
    ),
    OpenApiParameter("format", str, enum=list(event_export.FORMATS), description="csv (default)"),
    OpenApiParameter(
        "focus_version",
        str,
        enum=list(event_export.FOCUS_VERSIONS),
        description="The FOCUS version for format=focus: 1.3 (default) or 1.0.",
    ),
    OpenApiParameter(
        "unit",
        str,
        description="A unit's cost-center code: that unit and its descendants.",
        pattern=f"^{event_export.UNIT_CODE.pattern}$",
    ),
]


class EventsExport(OrgAPIView):
    required_permission = "org.view"
    renderer_classes = [renderers.JSONRenderer]
    content_negotiation_class = JsonErrorsOnly

    @extend_schema(
        summary="Export the events (CSV, NDJSON) or FOCUS rows, streamed",
        description=(
            "The events since `since` to today as CSV or NDJSON (one event a line), or FOCUS "
            "(one row per unit, day, provider and model). CSV cells are safe against "
            "spreadsheet formula injection; an empty range is the header only."
        ),
        parameters=PARAMETERS,
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV or FOCUS"),
            (200, "application/x-ndjson"): OpenApiResponse(
                OpenApiTypes.STR, description="NDJSON, one event a line"
            ),
            404: OpenApiResponse(description="No such unit in reach"),
        },
    )
    def get(self, request, org_slug: str):
        try:
            export = event_export.parse_since_export(self.membership, request.query_params)
        except event_export.ExportRequestError as exc:
            raise ValidationError({exc.field: [str(exc)]}) from None
        except event_export.OutOfReach:
            raise NotFound("No such unit in reach.") from None
        response = StreamingHttpResponse(export.lines(), content_type=export.content_type)
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        return response
