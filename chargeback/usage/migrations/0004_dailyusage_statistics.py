"""On PostgreSQL, extended statistics on the rollup's grouping columns: without them the
planner multiplies the columns' distinct counts, expects ~30x more groups than there are,
and sorts the month's GROUP BY on disk at close."""

from django.db import migrations

CREATE = (
    "CREATE STATISTICS IF NOT EXISTS usage_dailyusage_dims (ndistinct) "
    "ON unit_id, service, provider, model FROM usage_dailyusage"
)
DROP = "DROP STATISTICS IF EXISTS usage_dailyusage_dims"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("usage", "0003_usageevent_no_db_constraints")]
    operations = [migrations.RunPython(forwards, backwards)]
