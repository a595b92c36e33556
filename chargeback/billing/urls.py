from django.urls import path

from chargeback.billing import outcome_views, statement_views, views

app_name = "billing"

urlpatterns = [
    path("billing/periods/", views.period_list, name="period-list"),
    path("billing/periods/<int:period_id>/", views.period_detail, name="period-detail"),
    path("billing/periods/<int:period_id>/draft/", views.period_draft, name="period-draft"),
    path(
        "billing/periods/<int:period_id>/progress/",
        views.period_progress,
        name="period-progress",
    ),
    path("billing/periods/<int:period_id>/issue/", views.period_issue, name="period-issue"),
    path("billing/periods/<int:period_id>/close/", views.period_close, name="period-close"),
    path("billing/periods/<int:period_id>/pdfs.zip", views.period_pdfs, name="period-pdfs"),
    path("billing/periods/<int:period_id>/lines.csv", views.period_csv, name="period-csv"),
    path("statements/", statement_views.statement_list, name="statement-list"),
    path(
        "statements/<int:statement_id>/", statement_views.statement_detail, name="statement-detail"
    ),
    path("statements/<int:statement_id>/pdf/", statement_views.statement_pdf, name="statement-pdf"),
    path("statements/<int:statement_id>/csv/", statement_views.statement_csv, name="statement-csv"),
    path(
        "statements/<int:statement_id>/lines/<int:line_id>/events/",
        statement_views.line_events,
        name="line-events",
    ),
    path(
        "statements/<int:statement_id>/lines/<int:line_id>/events.csv",
        statement_views.line_events_csv,
        name="line-events-csv",
    ),
    path("billing/outcomes/", outcome_views.outcome_list, name="outcome-list"),
    path("billing/outcomes/upload/", outcome_views.outcome_upload, name="outcome-upload"),
]
