"""On PostgreSQL the database itself keeps issued statements and months as they were issued
(finding 6 of issue 15), whoever writes: triggers refuse every change to an issued or final
statement but its forward status and its PDF's first storing, any line written into one, a new
statement in an issued month and a month moving back; the application role (deploy/sql/) may
not TRUNCATE, change the audit log, or disable or drop a trigger. The application's own writes
(draft, issue, PDF, close, late usage into the next month) still go through."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from chargeback.audit.log import record
from chargeback.billing.close import close_period, draft_statements, issue_statements
from chargeback.billing.models import BillingPeriod, PdfStatus, Statement, StatementStatus
from chargeback.billing.pdf import store_pdf
from chargeback.calendar import Period
from chargeback.tenancy.scoping import within
from tests.integration.conftest import APP_DB_USER, _database_url
from tests.usage.conftest import event, ingest

pytestmark = [
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="the triggers and roles exist on PostgreSQL only (code guards cover SQLite)",
    ),
    pytest.mark.django_db,
]

OCT = Period.parse("2026-10")
NOV = Period.parse("2026-11")


def _sql(sql: str, params=None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def refused(sql: str, params=None, match: str | None = None) -> None:
    with pytest.raises(DatabaseError, match=match):
        _sql(sql, params)


@pytest.fixture
def issued(priced_org):
    """October drafted and issued (in review), with SUP's statement."""
    ingest(priced_org, [event(f"r{i}", tags={"team": "SUP"}) for i in range(3)])
    with within(priced_org):
        draft_statements(priced_org, OCT)
        issue_statements(priced_org, OCT, today=dt.date(2026, 11, 2))
        return Statement.objects.select_related("organization", "period", "unit").get(
            period__month=OCT.first, unit__code="SUP"
        )


@pytest.fixture
def final(issued, priced_org):
    """October closed, SUP's statement final with its PDF stored."""
    with within(priced_org):
        close_period(priced_org, OCT, override_reason="closed early for the test")
        statement = Statement.objects.select_related("organization", "period", "unit").get(
            pk=issued.pk
        )
        store_pdf(statement)
        statement.refresh_from_db()
    assert statement.status == StatementStatus.FINAL and statement.pdf_status == PdfStatus.DONE
    return statement


@pytest.mark.parametrize(
    "assignment",
    [
        "usage_cost = usage_cost + 1",
        "requests = requests + 1",
        "input_tokens = input_tokens + 1",
        "output_tokens = output_tokens + 1",
        "org_cost = org_cost + 1",
        "org_unallocated = org_unallocated + 1",
        "total = total + 1",
        "pdf = 'statements/2026/11/forged.pdf'",
        "pdf_status = 'failed'",
        "pdf_error = 'x'",
        "central = NOT central",
        "organization_id = %(other_org)s",
        "unit_id = %(other_unit)s",
        "unit_name = 'Renamed'",
        "unit_code = 'OTHER'",
        "unit_owner = 'someone@example.com'",
        "number = number || 'X'",
        "evidence = '{}'::jsonb",
        "checksum = ''",
        "created_at = now()",
        "status = 'issued'",
        "status = 'draft'",
    ],
)
def test_no_column_of_a_final_statement_changes(final, org_b, assignment):
    with within(final.organization):
        other_unit = final.organization.units.exclude(pk=final.unit_id).first().pk
    params = {"pk": final.pk, "other_org": org_b.pk, "other_unit": other_unit}
    sql = f"UPDATE billing_statement SET {assignment} WHERE id = %(pk)s"  # noqa: S608 (fixed list)
    refused(sql, params, "immutable")
    stored = Statement.objects.with_scopes_disabled().get(pk=final.pk)
    assert (stored.status, stored.total, stored.pdf.name) == (
        final.status,
        final.total,
        final.pdf.name,
    )


def test_an_issued_statement_cannot_go_back_or_be_deleted(issued):
    refused("UPDATE billing_statement SET status = 'draft' WHERE id = %s", [issued.pk], "forward")
    refused("UPDATE billing_statement SET total = total + 1 WHERE id = %s", [issued.pk])
    refused("DELETE FROM billing_statement WHERE id = %s", [issued.pk], "immutable")


def test_no_line_goes_into_or_out_of_an_issued_statement(issued):
    with within(issued.organization):
        line = issued.lines.first()
    refused(
        "INSERT INTO billing_statementline (organization_id, statement_id, position, kind,"
        " description, amount, ref, month) VALUES (%s, %s, 999, 'credit', 'planted', -100, '', '')",
        [issued.organization_id, issued.pk],
        "immutable",
    )
    refused("UPDATE billing_statementline SET amount = 0 WHERE id = %s", [line.pk], "immutable")
    refused("DELETE FROM billing_statementline WHERE id = %s", [line.pk], "immutable")


def test_an_issued_month_takes_no_new_statement(issued):
    refused(
        "INSERT INTO billing_statement (organization_id, period_id, unit_id, unit_code,"
        " unit_name, unit_owner, number, sequence, mode, status, central, currency, tier, total,"
        " usage_cost, input_tokens, output_tokens, requests, org_cost, org_unallocated,"
        " evidence, checksum, created_at, pdf, pdf_status, pdf_error)"
        " SELECT organization_id, period_id, unit_id, unit_code, unit_name, unit_owner,"
        " number || '-B', 999, mode, 'draft', central, currency, tier, total, usage_cost,"
        " input_tokens, output_tokens, requests, org_cost, org_unallocated, evidence, checksum,"
        " created_at, '', '', '' FROM billing_statement WHERE id = %s",
        [issued.pk],
        "takes no new statements",
    )


@pytest.mark.parametrize("state", ["open"])
def test_an_issued_month_cannot_be_reopened(issued, state):
    refused(
        "UPDATE billing_billingperiod SET state = %s WHERE id = %s",
        [state, issued.period_id],
        "only move forward",
    )
    refused(
        "UPDATE billing_billingperiod SET dispute_deadline = NULL WHERE id = %s",
        [issued.period_id],
        "keeps what it was issued with",
    )
    refused("DELETE FROM billing_billingperiod WHERE id = %s", [issued.period_id], "issued month")


@pytest.mark.parametrize("state", ["open", "in_review"])
def test_a_closed_month_cannot_be_reopened(final, state):
    refused(
        "UPDATE billing_billingperiod SET state = %s WHERE id = %s",
        [state, final.period_id],
        "only move forward",
    )
    assert BillingPeriod.objects.with_scopes_disabled().get(pk=final.period_id).state == "closed"


def test_late_usage_after_the_close_goes_to_the_next_month(final, priced_org):
    """The legitimate writes after issue: PDF (fixture), close (fixture), then late October
    usage drafted into November as an adjustment, November issued (which records October's
    reconciled totals on the closed month) and its PDF stored."""
    ingest(priced_org, [event("late-1", input_tokens=50_000_000, tags={"team": "SUP"})])
    with within(priced_org):
        draft_statements(priced_org, NOV)
        issue_statements(priced_org, NOV, today=dt.date(2026, 12, 2))
        nov = Statement.objects.select_related("organization", "period", "unit").get(
            period__month=NOV.first, unit__code="SUP"
        )
        assert nov.lines.filter(kind="adjustment", month="2026-10").exists()
        store_pdf(nov)
        close_period(priced_org, NOV, override_reason="closed early for the test")
        october = BillingPeriod.objects.get(pk=final.period_id)
    assert october.reconciled_cost is not None
    assert Statement.objects.with_scopes_disabled().get(pk=final.pk).checksum == final.checksum


# The application role ------------------------------------------------------------------------

needs_app_role = pytest.mark.skipif(
    not APP_DB_USER, reason="CHARGEBACK_APP_DB_USER is not set (.ci/run's PostgreSQL pass sets it)"
)


@pytest.fixture
def as_app(app_role):
    """A connection to the test database as the application role (autocommit)."""
    with psycopg.connect(_database_url(app_role), autocommit=True) as conn:
        conn.execute("SET lock_timeout = '5s'")  # a refusal, not a wait on the test's locks
        yield conn


@needs_app_role
@pytest.mark.parametrize(
    "sql",
    [
        "TRUNCATE audit_auditevent",
        "TRUNCATE billing_statement CASCADE",
        "TRUNCATE billing_statementline",
        "TRUNCATE billing_billingperiod CASCADE",
        "UPDATE audit_auditevent SET action = 'x'",
        "DELETE FROM audit_auditevent",
        "ALTER TABLE billing_statement DISABLE TRIGGER billing_statement_immutable",
        "ALTER TABLE billing_statement DISABLE TRIGGER ALL",
        "ALTER TABLE audit_auditevent DISABLE TRIGGER USER",
        "DROP TRIGGER billing_line_immutable ON billing_statementline",
        "CREATE OR REPLACE FUNCTION billing_statement_immutable() RETURNS trigger"
        " AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql",
        "ALTER TABLE billing_statement OWNER TO CURRENT_USER",
        "CREATE TABLE planted (id int)",
    ],
)
def test_the_application_role_cannot(as_app, sql):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_app.execute(sql)


@needs_app_role
def test_the_application_role_reads_and_writes_rows(as_app, org_a):
    """What the services need: rows of ordinary tables read and written, audit events added."""
    with within(org_a):
        record(organization=org_a, actor="test", action="thing.done", object_repr="thing")
    assert as_app.execute("SELECT count(*) FROM billing_statement").fetchone() is not None
    assert as_app.execute("SELECT current_user").fetchone()[0] == APP_DB_USER
    as_app.execute("UPDATE tenancy_organization SET name = name WHERE false")
    as_app.execute("DELETE FROM django_session WHERE false")
    assert as_app.execute(
        "SELECT has_table_privilege(current_user, 'audit_auditevent', 'INSERT'),"
        " has_table_privilege(current_user, 'audit_auditevent', 'UPDATE'),"
        " has_table_privilege(current_user, 'billing_statement', 'TRUNCATE')"
    ).fetchone() == (True, False, False)
