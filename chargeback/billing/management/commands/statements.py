import json

from django.core.management.base import CommandError

from chargeback.billing.documents import credit_notes_json, statement_json
from chargeback.billing.models import BillingPeriod, Statement
from chargeback.calendar import Period
from chargeback.money import quantize
from chargeback.tenancy.scoping import OrgCommand


class Command(OrgCommand):
    help = "List a month's statements with their lines and totals."

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="the month, YYYY-MM")
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle_org(self, org, *args, **opts):
        try:
            period = Period.parse(opts["period"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        billing = BillingPeriod.objects.filter(organization=org, month=period.first).first()
        statements = (
            list(
                Statement.objects.filter(period=billing)
                .select_related("unit", "period")
                .prefetch_related("lines")
                .order_by("sequence")
            )
            if billing
            else []
        )
        if opts["format"] == "json":
            self.stdout.write(
                json.dumps(
                    {
                        "organization": org.slug,
                        "period": period.label,
                        "state": billing.state if billing else "open",
                        "currency": org.currency,
                        "statements": [
                            statement_json(s) | credit_notes_json(s) for s in statements
                        ],
                    },
                    indent=2,
                )
            )
            return
        self._table(org, period, billing, statements)

    def _table(self, org, period, billing, statements) -> None:
        cur = org.currency
        state = billing.get_state_display().lower() if billing else "open"
        self.stdout.write(f"Statements for {org.slug}, {period.label} ({state}, {cur})")
        if not statements:
            self.stdout.write("no statements: run close_period first")
            return
        for s in statements:
            self.stdout.write("")
            self.stdout.write(
                f"{s.number}  {s.unit_code} {s.unit_name}  {s.mode} {s.status}"
                + (f"  tier {s.tier}" if s.tier else "")
            )
            for line in s.lines.all():
                qty = "" if line.quantity is None else f"{line.quantity.normalize():,f}"
                self.stdout.write(
                    f"  {line.kind:<13} {line.description[:70]:<70} {qty:>18} "
                    f"{quantize(line.amount, cur):>14,}"
                )
            self.stdout.write(f"  {'total':<13} {'':<70} {'':>18} {quantize(s.total, cur):>14,}")
        grand = sum((s.total for s in statements), start=statements[0].total * 0)
        self.stdout.write("")
        self.stdout.write(f"{len(statements)} statement(s), total {quantize(grand, cur):,} {cur}")
