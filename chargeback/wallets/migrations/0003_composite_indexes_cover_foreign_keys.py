"""The single-column indexes of foreign keys that a composite index (or unique
constraint) already leads with are dropped: each was written on every authorization.
Only the index goes (the foreign key constraints stay, not re-validated)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tenancy', '0005_dispute_absorb_policy'),
        ('wallets', '0002_append_only_ledger'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='ledgerentry',
                    name='wallet',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='wallets.wallet'),
                ),
                migrations.AlterField(
                    model_name='reservation',
                    name='organization',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.organization'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS \"wallets_ledgerentry_wallet_id_686913ed\"",
                    reverse_sql='CREATE INDEX "wallets_ledgerentry_wallet_id_686913ed" ON "wallets_ledgerentry" ("wallet_id")',
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS \"wallets_reservation_organization_id_cc02055e\"",
                    reverse_sql='CREATE INDEX "wallets_reservation_organization_id_cc02055e" ON "wallets_reservation" ("organization_id")',
                ),
            ],
        ),
    ]
