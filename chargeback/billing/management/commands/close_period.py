from django.core.management.base import CommandError

from chargeback.billing.close import draft_statements, issue_statements, quarantine_warning
from chargeback.billing.models import Statement
from chargeback.billing.period_state import CloseError
from chargeback.billing.tasks import queue_pdfs
from chargeback.calendar import Period
from chargeback.money import format_money
from chargeback.tenancy.scoping import OrgCommand


class Command(OrgCommand):
    help = (
        "Draft the month's statements from the rollup and the allocation policy; with --issue, "
        "issue them (immutable, dispute window of five business days)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="the month, YYYY-MM")
        parser.add_argument("--issue", action="store_true", help="issue the drafts")

    def handle_org(self, org, *args, **opts):
        try:
            period = Period.parse(opts["period"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        warning = quarantine_warning(org, period)
        if warning:
            self.stderr.write(f"warning: {warning}")
        try:
            billing = draft_statements(org, period, actor="close_period command")
            if opts["issue"]:
                billing = issue_statements(
                    org, period, actor="close_period command", queue_pdfs=queue_pdfs
                )
        except CloseError as exc:
            raise CommandError(str(exc)) from exc
        statements = list(Statement.objects.filter(period=billing).order_by("sequence"))
        total = sum((s.total for s in statements), start=billing.usage_cost * 0)
        cur = org.currency
        self.stdout.write(
            f"{period.label}: {len(statements)} statement(s), "
            f"total {format_money(total, cur)}, usage cost {format_money(billing.usage_cost, cur)}, "
            f"unallocated {format_money(billing.unallocated_cost, cur)}"
        )
        if opts["issue"]:
            self.stdout.write(
                f"issued; period {billing.get_state_display().lower()}, "
                f"disputes until {billing.dispute_deadline:%Y-%m-%d}"
            )
        else:
            self.stdout.write("drafts only: run again with --issue to issue them")
