"""On PostgreSQL, a trigger refuses UPDATE and DELETE on ledger entries (the model guard covers
SQLite). It reuses the audit log's `chargeback_append_only()` function."""

from django.db import migrations

CREATE = """
DROP TRIGGER IF EXISTS wallets_ledgerentry_append_only ON wallets_ledgerentry;
CREATE TRIGGER wallets_ledgerentry_append_only BEFORE UPDATE OR DELETE ON wallets_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION chargeback_append_only();
"""
DROP = "DROP TRIGGER IF EXISTS wallets_ledgerentry_append_only ON wallets_ledgerentry;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("wallets", "0001_initial"), ("audit", "0003_append_only_trigger")]
    operations = [migrations.RunPython(forwards, backwards)]
