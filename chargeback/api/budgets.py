"""Budgets API (session auth under /api/v1/o/<org_slug>/budgets/): each budget with its spend,
month-end forecast and range, remaining, run-out date, next month's forecast, last month's
actuals and the thresholds fired: the `budgets --format json` document. A team lead sees its
units' budgets only."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from chargeback.api.base import OrgAPIView
from chargeback.budgets.report import budgets_report
from chargeback.calendar import MONTH_PATTERN, Period, is_month
from chargeback.units.queries import visible_unit_ids


class BudgetList(OrgAPIView):
    required_permission = "budgets.view"

    @extend_schema(
        summary="Budgets with their spend and forecast",
        parameters=[
            OpenApiParameter(
                "period", str, description="A month, YYYY-MM.", pattern=f"^{MONTH_PATTERN.pattern}$"
            )
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, org_slug: str) -> Response:
        text = request.query_params.get("period")
        if text is not None and not is_month(text):
            raise ValidationError({"period": f'"{text}" is not a month (YYYY-MM)'})
        period = Period.parse(text) if text is not None else None
        return Response(
            budgets_report(self.org, period=period, unit_ids=visible_unit_ids(self.membership))
        )
