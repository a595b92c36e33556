"""The single-column indexes of foreign keys that a composite index (or unique
constraint) already leads with are dropped: each was written on every authorization.
Only the index goes (the foreign key constraints stay, not re-validated)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('gateway', '0001_initial'),
        ('tenancy', '0005_dispute_absorb_policy'),
        ('wallets', '0002_append_only_ledger'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='decision',
                    name='organization',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.organization'),
                ),
                migrations.AlterField(
                    model_name='decision',
                    name='wallet',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='wallets.wallet'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS \"gateway_decision_organization_id_d30dae8c\"",
                    reverse_sql='CREATE INDEX "gateway_decision_organization_id_d30dae8c" ON "gateway_decision" ("organization_id")',
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS \"gateway_decision_wallet_id_3f3b0240\"",
                    reverse_sql='CREATE INDEX "gateway_decision_wallet_id_3f3b0240" ON "gateway_decision" ("wallet_id")',
                ),
            ],
        ),
    ]
