"""Statements API (session auth under /api/v1/o/<org_slug>/): list and retrieve statements and
their lines, download the PDF and the CSV of the lines.

Role-scoped like the statement pages: finance, admins and viewers see every unit's
statements, a team lead those of its units (and their descendants) only; drafts only for
those who close the books (finance, admins), since they change until issued. Anything else,
and any other organisation's id, answers 404."""

from __future__ import annotations

import logging
import re

from django.db.models import QuerySet
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, renderers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from chargeback.api.base import OrgAPIView
from chargeback.api.serializers import StatementLineSerializer, StatementSerializer
from chargeback.billing.documents import lines_csv
from chargeback.billing.models import (
    PdfStatus,
    Statement,
    StatementLine,
    StatementMode,
    StatementStatus,
)
from chargeback.billing.pdf import render_pdf
from chargeback.billing.queries import visible_statements as statements_in_reach
from chargeback.calendar import MONTH_PATTERN, Period, is_month
from chargeback.tenancy.models import Membership

UNIT_CODE = re.compile(r"[^\x00-\x1f]{1,50}")
logger = logging.getLogger(__name__)


def visible_statements(membership: Membership) -> QuerySet[Statement]:
    """The same reach as the statement pages: one rule, `billing.queries.visible_statements`."""
    return statements_in_reach(membership.organization, membership)


class StatementAPIView(OrgAPIView):
    required_permission = "statements.view"
    lookup_url_kwarg = "statement_id"

    def statements(self) -> QuerySet[Statement]:
        return visible_statements(self.membership).select_related("period", "unit")

    def get_queryset(self):
        return self.statements()

    def statement(self) -> Statement:
        return get_object_or_404(self.statements(), pk=self.kwargs["statement_id"])


FILTERS = [
    OpenApiParameter(
        "period", str, description="A month, YYYY-MM.", pattern=f"^{MONTH_PATTERN.pattern}$"
    ),
    OpenApiParameter("mode", str, enum=list(StatementMode.values)),
    OpenApiParameter("status", str, enum=list(StatementStatus.values)),
    OpenApiParameter(
        "unit", str, description="A unit's cost-center code.", pattern=f"^{UNIT_CODE.pattern}$"
    ),
]


class StatementList(StatementAPIView, generics.ListAPIView):
    """Statements the caller may see, newest period first, without their lines (follow
    `url` for them). Filters: `period` (YYYY-MM), `mode`, `status`, `unit` (code)."""

    serializer_class = StatementSerializer

    @extend_schema(summary="List statements", parameters=FILTERS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        qs = super().get_queryset()
        params = self.request.query_params
        errors: dict[str, list[str]] = {}
        # Each filter is taken as given (no trimming): present and not valid is a 400 naming it.
        period = params.get("period")
        if period is not None:
            if is_month(period):
                qs = qs.filter(period__month=Period.parse(period).first)
            else:
                errors["period"] = [f'"{period[:20]}" is not a month (YYYY-MM).']
        for name, choices in (("mode", StatementMode.values), ("status", StatementStatus.values)):
            value = params.get(name)
            if value is not None and value not in choices:
                errors[name] = [f'"{value[:20]}" is not one of {", ".join(choices)}.']
            elif value is not None:
                qs = qs.filter(**{name: value})
        unit = params.get("unit")
        if unit is not None and not UNIT_CODE.fullmatch(unit):
            errors["unit"] = ["Not a unit code (at most 50 characters, no control characters)."]
        elif unit is not None:
            qs = qs.filter(unit__code=unit)
        if errors:
            raise ValidationError(errors)
        return qs.order_by("-period__month", "sequence")


class StatementDetail(StatementAPIView, generics.RetrieveAPIView):
    """One statement with its lines."""

    serializer_class = StatementSerializer

    @extend_schema(summary="A statement with its lines")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "with_lines": True}


class StatementLines(StatementAPIView, generics.ListAPIView):
    """A statement's lines in order."""

    serializer_class = StatementLineSerializer

    @extend_schema(summary="A statement's lines")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        self._statement = self.statement()
        return StatementLine.objects.filter(
            organization=self.org, statement=self._statement
        ).order_by("position")

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        statement = getattr(self, "_statement", None)
        context["currency"] = statement.currency if statement else self.org.currency
        return context


class PassthroughRenderer(renderers.BaseRenderer):
    """Lets `Accept: application/pdf` (or text/csv) through content negotiation; the views
    answer with a plain Django response, so this renders only errors."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return renderers.JSONRenderer().render(data)


class PdfRenderer(PassthroughRenderer):
    media_type = "application/pdf"
    format = "pdf"


class CsvRenderer(PassthroughRenderer):
    media_type = "text/csv"
    format = "csv"


class StatementPdf(StatementAPIView):
    renderer_classes = [renderers.JSONRenderer, PdfRenderer]

    @extend_schema(
        summary="A statement's PDF",
        description="The stored PDF once rendered; otherwise it is rendered now.",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF"),
            404: OpenApiResponse(description="No such statement in reach"),
            503: OpenApiResponse(description="The PDF could not be rendered just now"),
        },
    )
    def get(self, request, org_slug: str, statement_id: int):
        statement = self.statement()
        name = f"{statement.number}.pdf"
        if statement.pdf_status == PdfStatus.DONE and statement.pdf.name:
            try:
                handle = statement.pdf.open("rb")
            except OSError:
                handle = None
            if handle is not None:
                return FileResponse(
                    handle, as_attachment=True, filename=name, content_type="application/pdf"
                )
        try:
            data = render_pdf(statement)
        except Exception:
            logger.exception("rendering the PDF of %s failed", statement.number)
            return Response(
                {"detail": "The PDF could not be rendered just now; try again in a minute."},
                status=503,
            )
        response = HttpResponse(data, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class StatementCsv(StatementAPIView):
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]

    @extend_schema(
        summary="A statement's lines as CSV",
        description="One row per line; cells are safe against spreadsheet formula injection.",
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV"),
            404: OpenApiResponse(description="No such statement in reach"),
        },
    )
    def get(self, request, org_slug: str, statement_id: int):
        statement = self.statement()
        response = HttpResponse(lines_csv([statement]), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{statement.number}.csv"'
        return response
