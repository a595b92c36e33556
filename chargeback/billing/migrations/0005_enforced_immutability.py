"""On PostgreSQL, triggers make issued statements and issued months immutable whatever writes
to them (raw SQL, a console, a bug), replacing 0002's column list with the whole row:

- billing_statement: a statement is inserted as a draft into an open month. Once issued,
  every column stays as issued (the whole row is compared, so a column added later is covered
  too) except `status`, which only moves issued -> final, and the PDF columns (`pdf`,
  `pdf_status`, `pdf_error`), which the renderer fills after the issue until a PDF is stored
  (`pdf_status` = 'done'), the file named after the statement; from then on they are frozen
  as well. An issued statement cannot be
  deleted.
- billing_statementline: no line is inserted into, updated in, moved to or deleted from a
  statement that is not a draft.
- billing_billingperiod: the state only moves forward one step (open -> in_review -> closed);
  an issued month keeps its month, organisation, issue date, issuer, dispute deadline and
  policy (the issuer may become NULL when the user is deleted), a closed one its close date and
  closer; an issued month cannot be deleted. Late-usage bookkeeping (`reconciled_*`) and the
  draft-progress columns may still change.

The table owner could still drop or disable these triggers: the application runs as a
separate role that does not own the tables (deploy/sql/, deploy/README.md). Code guards cover
SQLite."""

from importlib import import_module

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION billing_statement_immutable() RETURNS trigger AS $$
DECLARE
    pdf_columns CONSTANT text[] := ARRAY['pdf', 'pdf_status', 'pdf_error'];
    month_state text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'draft' THEN
            RAISE EXCEPTION 'statement % is %: statements are created as drafts and issued with their month',
                NEW.number, NEW.status;
        END IF;
        SELECT state INTO month_state FROM billing_billingperiod WHERE id = NEW.period_id FOR SHARE;
        IF month_state IS DISTINCT FROM 'open' THEN
            RAISE EXCEPTION 'statement %: its month is % and takes no new statements',
                NEW.number, month_state;
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'statement % is %: issued statements are immutable', OLD.number, OLD.status;
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'draft' THEN
        IF NEW.status NOT IN ('draft', 'issued') THEN
            RAISE EXCEPTION 'statement % is a draft: it is issued before it is %', OLD.number, NEW.status;
        END IF;
        RETURN NEW;
    END IF;
    IF NOT (NEW.status = OLD.status OR (OLD.status = 'issued' AND NEW.status = 'final')) THEN
        RAISE EXCEPTION 'statement % is %: its status may only move forward (issued -> final)',
            OLD.number, OLD.status;
    END IF;
    IF (to_jsonb(NEW) - 'status' - pdf_columns) IS DISTINCT FROM (to_jsonb(OLD) - 'status' - pdf_columns) THEN
        RAISE EXCEPTION 'statement % is %: issued statements are immutable', OLD.number, OLD.status;
    END IF;
    IF OLD.pdf_status = 'done' AND (
        NEW.pdf IS DISTINCT FROM OLD.pdf OR NEW.pdf_status IS DISTINCT FROM OLD.pdf_status
        OR NEW.pdf_error IS DISTINCT FROM OLD.pdf_error
    ) THEN
        RAISE EXCEPTION 'statement % is %: its stored PDF is immutable', OLD.number, OLD.status;
    END IF;
    IF NEW.pdf <> '' AND NEW.pdf NOT LIKE 'statements/%/' || OLD.number || '%.pdf' THEN
        RAISE EXCEPTION 'statement % is %: its PDF is statements/YYYY/MM/%.pdf, not %',
            OLD.number, OLD.status, OLD.number, NEW.pdf;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION billing_line_immutable() RETURNS trigger AS $$
DECLARE
    st text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT status INTO st FROM billing_statement WHERE id = OLD.statement_id FOR SHARE;
        IF st IS NOT NULL AND st <> 'draft' THEN
            RAISE EXCEPTION 'lines of an issued statement are immutable';
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT status INTO st FROM billing_statement WHERE id = NEW.statement_id FOR SHARE;
        IF st IS NOT NULL AND st <> 'draft' THEN
            RAISE EXCEPTION 'lines of an issued statement are immutable: no line is added to it';
        END IF;
        RETURN NEW;
    END IF;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION billing_period_forward_only() RETURNS trigger AS $$
DECLARE
    states CONSTANT text[] := ARRAY['open', 'in_review', 'closed'];
    step int;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.state <> 'open' THEN
            RAISE EXCEPTION 'billing period % is %: an issued month cannot be deleted', OLD.month, OLD.state;
        END IF;
        RETURN OLD;
    END IF;
    step := array_position(states, NEW.state) - array_position(states, OLD.state);
    IF step IS NULL OR step NOT IN (0, 1) THEN
        RAISE EXCEPTION 'billing period % is %: its state may only move forward (open -> in_review -> closed), not to %',
            OLD.month, OLD.state, NEW.state;
    END IF;
    IF OLD.state <> 'open' AND (
        NEW.organization_id IS DISTINCT FROM OLD.organization_id
        OR NEW.month IS DISTINCT FROM OLD.month
        OR NEW.issued_at IS DISTINCT FROM OLD.issued_at
        OR NEW.dispute_deadline IS DISTINCT FROM OLD.dispute_deadline
        OR NEW.policy IS DISTINCT FROM OLD.policy
        OR (NEW.issued_by_id IS DISTINCT FROM OLD.issued_by_id AND NEW.issued_by_id IS NOT NULL)
    ) THEN
        RAISE EXCEPTION 'billing period % is %: an issued month keeps what it was issued with', OLD.month, OLD.state;
    END IF;
    IF OLD.state = 'closed' AND (
        NEW.closed_at IS DISTINCT FROM OLD.closed_at
        OR (NEW.closed_by_id IS DISTINCT FROM OLD.closed_by_id AND NEW.closed_by_id IS NOT NULL)
    ) THEN
        RAISE EXCEPTION 'billing period % is closed: its close is immutable', OLD.month;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS billing_statement_immutable ON billing_statement;
CREATE TRIGGER billing_statement_immutable BEFORE INSERT OR UPDATE OR DELETE ON billing_statement
    FOR EACH ROW EXECUTE FUNCTION billing_statement_immutable();
DROP TRIGGER IF EXISTS billing_line_immutable ON billing_statementline;
CREATE TRIGGER billing_line_immutable BEFORE INSERT OR UPDATE OR DELETE ON billing_statementline
    FOR EACH ROW EXECUTE FUNCTION billing_line_immutable();
DROP TRIGGER IF EXISTS billing_period_forward_only ON billing_billingperiod;
CREATE TRIGGER billing_period_forward_only BEFORE UPDATE OR DELETE ON billing_billingperiod
    FOR EACH ROW EXECUTE FUNCTION billing_period_forward_only();
"""
# Back to 0002's triggers (re-running 0002's SQL re-creates its functions).
DROP = """
DROP TRIGGER IF EXISTS billing_period_forward_only ON billing_billingperiod;
DROP FUNCTION IF EXISTS billing_period_forward_only();
DROP TRIGGER IF EXISTS billing_statement_immutable ON billing_statement;
DROP TRIGGER IF EXISTS billing_line_immutable ON billing_statementline;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        previous = import_module("chargeback.billing.migrations.0002_immutable_statements")
        schema_editor.execute(DROP + previous.CREATE, params=None)


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_statement_unit_snapshot")]
    operations = [migrations.RunPython(forwards, backwards)]
