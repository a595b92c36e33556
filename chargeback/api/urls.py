from django.urls import path

from chargeback.api import (
    budgets,
    disputes,
    exports,
    gateway,
    ingest,
    otel,
    outcomes,
    statements,
    views,
)

app_name = "api"
urlpatterns = [
    path("v1/usage-events", ingest.UsageEvents.as_view(), name="usage-events"),
    path("v1/otel/v1/traces", otel.OtlpTraces.as_view(), name="otel-traces"),
    path(
        "v1/ingest-batches/<int:batch_id>", ingest.IngestBatchDetail.as_view(), name="ingest-batch"
    ),
    path("v1/o/<slug:org_slug>/units/", views.UnitList.as_view(), name="unit-list"),
    path(
        "v1/o/<slug:org_slug>/units/<int:unit_id>/", views.UnitDetail.as_view(), name="unit-detail"
    ),
    path("v1/outcomes", outcomes.Outcomes.as_view(), name="outcomes"),
    path("v1/authorize", gateway.Authorize.as_view(), name="authorize"),
    path("v1/settle", gateway.Settle.as_view(), name="settle"),
    path("v1/release", gateway.Release.as_view(), name="release"),
    path("v1/o/<slug:org_slug>/budgets/", budgets.BudgetList.as_view(), name="budget-list"),
    path(
        "v1/o/<slug:org_slug>/statements/",
        statements.StatementList.as_view(),
        name="statement-list",
    ),
    path(
        "v1/o/<slug:org_slug>/statements/<int:statement_id>/",
        statements.StatementDetail.as_view(),
        name="statement-detail",
    ),
    path(
        "v1/o/<slug:org_slug>/statements/<int:statement_id>/lines/",
        statements.StatementLines.as_view(),
        name="statement-lines",
    ),
    path(
        "v1/o/<slug:org_slug>/statements/<int:statement_id>/pdf/",
        statements.StatementPdf.as_view(),
        name="statement-pdf",
    ),
    path(
        "v1/o/<slug:org_slug>/statements/<int:statement_id>/csv/",
        statements.StatementCsv.as_view(),
        name="statement-csv",
    ),
    path(
        "v1/o/<slug:org_slug>/events/export", exports.EventsExport.as_view(), name="events-export"
    ),
    path("v1/o/<slug:org_slug>/disputes/", disputes.DisputeList.as_view(), name="dispute-list"),
    path(
        "v1/o/<slug:org_slug>/disputes/<int:dispute_id>/",
        disputes.DisputeDetail.as_view(),
        name="dispute-detail",
    ),
    path(
        "v1/o/<slug:org_slug>/disputes/<int:dispute_id>/actions/",
        disputes.DisputeAction.as_view(),
        name="dispute-action",
    ),
    path(
        "v1/o/<slug:org_slug>/disputes/<int:dispute_id>/evidence/",
        disputes.DisputeEvidence.as_view(),
        name="dispute-evidence",
    ),
]
