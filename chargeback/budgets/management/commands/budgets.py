import json

from django.core.management.base import CommandError

from chargeback.budgets.report import budgets_report
from chargeback.calendar import Period
from chargeback.tenancy.scoping import OrgCommand


class Command(OrgCommand):
    help = "Each unit's monthly budget: amount, spend, forecast, remaining and fired thresholds."

    def add_arguments(self, parser):
        parser.add_argument(
            "--period", help="YYYY-MM (default: the current month in the org's timezone)"
        )
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle_org(self, org, *args, **opts):
        try:
            period = Period.parse(opts["period"]) if opts["period"] else None
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        report = budgets_report(org, period=period)
        if opts["format"] == "json":
            self.stdout.write(json.dumps(report, indent=2))
            return
        cur = report["currency"]
        self.stdout.write(f"Budgets for {org.slug}, {report['period']} ({cur})")
        head = (
            f"{'unit':<14} {'amount':>14} {'spend':>14} {'forecast':>14} {'remaining':>14} "
            f"{'run out':>10} {'hard':>5}  fired"
        )
        self.stdout.write(head)
        self.stdout.write("-" * len(head))
        for b in report["budgets"]:
            fired = ", ".join(f"{t}%" for t in b["fired"]) or "-"
            if b["forecast_fired"]:
                fired += " (forecast)"
            self.stdout.write(
                f"{b['unit']:<14} {b['amount']:>14} {b['spend']:>14} {b['forecast']:>14} "
                f"{b['remaining']:>14} {b['run_out'] or '-':>10} {'yes' if b['hard'] else 'no':>5}"
                f"  {fired}"
            )
        if not report["budgets"]:
            self.stdout.write("no budgets")
