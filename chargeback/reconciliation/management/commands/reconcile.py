"""`reconcile --org SLUG --period YYYY-MM [--format table|json]` (DESIGN 6.3)."""

import json

from django.core.management.base import CommandError

from chargeback.calendar import Period, is_month
from chargeback.reconciliation.queries import reconciliation_of
from chargeback.reconciliation.report import reconciliation_json, reconciliation_table
from chargeback.reconciliation.trueup import TrueUpError, record_true_up
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
        parser.add_argument(
            "--true-up",
            action="store_true",
            help="charge the unexplained variance to the units by share of usage spend, as "
            "true_up lines on the month's next drafts (needs --reason)",
        )
        parser.add_argument("--reason", default="", metavar="TEXT")

    def handle_org(self, org, *args, **opts):
        if not is_month(opts["period"]):
            raise CommandError(f'period: "{opts["period"]}" is not a month (YYYY-MM)')
        period = Period.parse(opts["period"])
        if opts["true_up"]:
            try:
                true_up = record_true_up(
                    organization=org, period=period, actor="command:reconcile",
                    reason=opts["reason"],
                )  # fmt: skip
            except TrueUpError as exc:
                raise CommandError(str(exc)) from exc
            return f"true-up {period.label}: {true_up.amount:f} {org.currency} by share of spend"
        result = reconciliation_of(org, period)
        if opts["format"] == "json":
            return json.dumps(reconciliation_json(result, period), indent=2)
        return reconciliation_table(result, period)
