"""On PostgreSQL, triggers keep issued statements immutable even through raw SQL: their
content columns and lines cannot change, and they cannot be deleted. Only the status may move
issued -> final, and the PDF columns may be filled. (Code guards cover SQLite.)"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION billing_statement_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'statement % is %: issued statements are immutable', OLD.number, OLD.status;
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status <> 'draft' AND (
        NEW.number IS DISTINCT FROM OLD.number OR NEW.sequence IS DISTINCT FROM OLD.sequence
        OR NEW.unit_id IS DISTINCT FROM OLD.unit_id OR NEW.period_id IS DISTINCT FROM OLD.period_id
        OR NEW.mode IS DISTINCT FROM OLD.mode OR NEW.currency IS DISTINCT FROM OLD.currency
        OR NEW.total IS DISTINCT FROM OLD.total OR NEW.checksum IS DISTINCT FROM OLD.checksum
        OR NEW.tier IS DISTINCT FROM OLD.tier OR NEW.evidence IS DISTINCT FROM OLD.evidence
        OR NEW.dispute_deadline IS DISTINCT FROM OLD.dispute_deadline
        OR NEW.issued_at IS DISTINCT FROM OLD.issued_at
        OR NOT (NEW.status = OLD.status OR (OLD.status = 'issued' AND NEW.status = 'final'))
    ) THEN
        RAISE EXCEPTION 'statement % is %: issued statements are immutable', OLD.number, OLD.status;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION billing_line_immutable() RETURNS trigger AS $$
DECLARE
    st text;
BEGIN
    SELECT status INTO st FROM billing_statement
        WHERE id = COALESCE(OLD.statement_id, NEW.statement_id);
    IF st IS NOT NULL AND st <> 'draft' THEN
        RAISE EXCEPTION 'lines of an issued statement are immutable';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS billing_statement_immutable ON billing_statement;
CREATE TRIGGER billing_statement_immutable BEFORE UPDATE OR DELETE ON billing_statement
    FOR EACH ROW EXECUTE FUNCTION billing_statement_immutable();
DROP TRIGGER IF EXISTS billing_line_immutable ON billing_statementline;
CREATE TRIGGER billing_line_immutable BEFORE UPDATE OR DELETE ON billing_statementline
    FOR EACH ROW EXECUTE FUNCTION billing_line_immutable();
"""
DROP = """
DROP TRIGGER IF EXISTS billing_statement_immutable ON billing_statement;
DROP TRIGGER IF EXISTS billing_line_immutable ON billing_statementline;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
