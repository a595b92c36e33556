"""Statements keep what they print about their unit (code, name, owner) as it was at issue;
existing statements take their unit's current values."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill(apps, schema_editor):
    Statement = apps.get_model("billing", "Statement")
    BusinessUnit = apps.get_model("units", "BusinessUnit")
    unit = BusinessUnit._default_manager.filter(pk=OuterRef("unit_id"))
    Statement._default_manager.update(
        unit_code=Subquery(unit.values("code")[:1]),
        unit_name=Subquery(unit.values("name")[:1]),
        unit_owner=Subquery(unit.values("owner_email")[:1]),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_drafts_inputs"),
        ("units", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="statement",
            name="unit_code",
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AddField(
            model_name="statement",
            name="unit_name",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="statement",
            name="unit_owner",
            field=models.EmailField(blank=True, max_length=254),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
