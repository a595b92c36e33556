"""`reconcile --org SLUG --period YYYY-MM [--format table|json]` (DESIGN 6.3)."""

import json

from django.core.management.base import CommandError

from chargeback.calendar import Period, is_month
from chargeback.reconciliation.queries import reconciliation_of
from chargeback.reconciliation.report import reconciliation_json, reconciliation_table
from chargeback.tenancy.scoping import OrgCommand


class Command(OrgCommand):
    help = (
        "Reconcile a month: metered (priced events), allocated (statements) and billed "
        "(provider invoices), the variance (billed - metered) and its causes; the causes and "
        "the unexplained rest sum exactly to the variance."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, metavar="YYYY-MM")
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle_org(self, org, *args, **opts):
        if not is_month(opts["period"]):
            raise CommandError(f'period: "{opts["period"]}" is not a month (YYYY-MM)')
        period = Period.parse(opts["period"])
        result = reconciliation_of(org, period)
        if opts["format"] == "json":
            return json.dumps(reconciliation_json(result, period), indent=2)
        return reconciliation_table(result, period)
