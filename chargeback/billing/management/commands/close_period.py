from django.core.management.base import CommandError

from chargeback.billing.close import (
    close_period,
    draft_statements,
    issue_statements,
    quarantine_warning,
)
from chargeback.billing.models import Statement
from chargeback.billing.period_state import CloseError
from chargeback.billing.tasks import queue_pdfs
from chargeback.calendar import Period
from chargeback.money import format_money
from chargeback.tenancy.scoping import OrgCommand

ACTOR = "close_period command"


class Command(OrgCommand):
    help = (
        "Draft the month's statements from the rollup and the allocation policy; with --issue, "
        "issue them (immutable, dispute window of five business days); with --close, close the "
        "issued period (final)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="the month, YYYY-MM")
        parser.add_argument("--issue", action="store_true", help="issue the drafts")
        parser.add_argument(
            "--close",
            action="store_true",
            help="close the issued period: its statements become final (refused while a "
            "dispute is open, and before the dispute window ends unless --override-reason)",
        )
        parser.add_argument(
            "--override-reason",
            default="",
            help="with --close: close although a close gate refuses (the dispute window is "
            "still open); the reason is audited and printed on every statement",
        )

    def handle_org(self, org, *args, **opts):
        try:
            period = Period.parse(opts["period"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if opts["override_reason"] and not opts["close"]:
            raise CommandError("--override-reason: only with --close")
        if opts["close"] and not opts["issue"]:
            return self._close(org, period, opts["override_reason"])
        warning = quarantine_warning(org, period)
        if warning:
            self.stderr.write(f"warning: {warning}")
        try:
            billing = draft_statements(org, period, actor=ACTOR)
            if opts["issue"]:
                billing = issue_statements(org, period, actor=ACTOR, queue_pdfs=queue_pdfs)
        except CloseError as exc:
            raise CommandError(str(exc)) from exc
        self._summary(org, period, billing, opts)
        if opts["close"]:
            self._close(org, period, opts["override_reason"])

    def _close(self, org, period, reason: str) -> None:
        try:
            billing = close_period(org, period, actor=ACTOR, override_reason=reason)
        except CloseError as exc:
            raise CommandError(str(exc)) from exc
        count = billing.statements.count()
        early = f"; closed early: {billing.close_override}" if billing.close_override else ""
        self.stdout.write(f"closed {period.label}: {count} statement(s) final{early}")

    def _summary(self, org, period, billing, opts) -> None:
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
