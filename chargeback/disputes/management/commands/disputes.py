"""`disputes --org SLUG open|resolve|list|review|ask|answer|withdraw|comment` (DESIGN 6.3)."""

import io
import json

from django.core.management.base import CommandError

from chargeback import safecsv
from chargeback.billing.models import Statement
from chargeback.calendar import Period
from chargeback.disputes import operations as ops
from chargeback.disputes.models import Dispute, Reason
from chargeback.disputes.queries import REPORT_COLUMNS, dispute_json, disputes_of, period_report
from chargeback.disputes.workflow import OUTCOMES
from chargeback.tenancy.models import Membership
from chargeback.tenancy.scoping import OrgCommand
from chargeback.units.models import BusinessUnit

MOVES = {  # subcommand -> (operation, help)
    "review": (ops.start_review, "finance starts the review of an open dispute"),
    "ask": (ops.request_info, "finance asks the unit for information (the clock pauses)"),
    "answer": (ops.answer_info, "the unit answers (the clock runs again)"),
    "withdraw": (ops.withdraw, "the one who opened it withdraws an open dispute"),
    "comment": (ops.comment, "a comment on the dispute's thread"),
}


class Command(OrgCommand):
    help = (
        "Open, resolve and list disputes of statement charges. --by names the member who acts: "
        "a team lead on its units' statements, finance and admins on any; only finance and "
        "admins review and resolve."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        p = sub.add_parser("open", help="open a dispute on an issued statement")
        p.add_argument("--statement", required=True, metavar="NUMBER")
        p.add_argument("--lines", default="", metavar="ID,ID", help="line ids (default: all)")
        p.add_argument("--amount", required=True, metavar="X")
        p.add_argument("--reason", required=True, choices=Reason.values)
        p.add_argument("--by", required=True, metavar="EMAIL")
        p.add_argument("--text", required=True, metavar="T")
        p.add_argument("--request-ids", default="", metavar="ID,ID", help="evidence")
        p = sub.add_parser("resolve", help="accept, partially accept or reject a dispute")
        p.add_argument("id", type=int, metavar="ID")
        p.add_argument("--outcome", required=True, choices=list(OUTCOMES))
        p.add_argument("--amount", default=None, metavar="X")
        p.add_argument("--to-unit", default=None, metavar="CODE")
        p.add_argument(
            "--cause-key", default="", metavar="KEY_ID",
            help="no owner known: the gateway key id behind it, listed for enforcement",
        )  # fmt: skip
        p.add_argument(
            "--cause-tag", default="", metavar="team=NAME",
            help="no owner known: the team tag behind it (instead of --cause-key)",
        )  # fmt: skip
        p.add_argument("--by", required=True, metavar="EMAIL")
        p.add_argument("--text", required=True, metavar="T")
        p = sub.add_parser("list", help="list the disputes")
        p.add_argument("--period", default=None, metavar="YYYY-MM")
        p.add_argument("--format", choices=["table", "json"], default="table")
        p = sub.add_parser("report", help="a month's disputes by reason and outcome")
        p.add_argument("--period", required=True, metavar="YYYY-MM")
        p.add_argument("--format", choices=["table", "csv", "json"], default="table")
        for name, (_fn, text) in MOVES.items():
            p = sub.add_parser(name, help=text)
            p.add_argument("id", type=int, metavar="ID")
            p.add_argument("--by", required=True, metavar="EMAIL")
            p.add_argument("--text", required=name in ("ask", "answer", "comment"), default="")

    def handle_org(self, org, *args, **opts):
        action = opts["action"]
        if action == "list":
            return self._list(org, opts)
        if action == "report":
            return self._report(org, opts)
        member = _member(org, opts["by"])
        try:
            if action == "open":
                dispute = self._open(org, member, opts)
                return f"dispute {dispute.pk}: open, respond by {dispute.respond_by:%Y-%m-%d}"
            dispute = _dispute(org, opts["id"])
            if action == "resolve":
                dispute = ops.resolve(
                    membership=member,
                    dispute=dispute,
                    outcome=opts["outcome"],
                    amount=opts["amount"],
                    to_unit=_unit(org, opts["to_unit"]),
                    text=opts["text"],
                    cause_key_id=opts["cause_key"],
                    cause_tag=opts["cause_tag"],
                )
            else:
                fn = MOVES[action][0]
                result = fn(membership=member, dispute=dispute, text=opts["text"])
                dispute = result if isinstance(result, Dispute) else dispute
        except ops.DisputeError as exc:
            raise CommandError(str(exc)) from exc
        if action == "comment":
            return f"dispute {dispute.pk}: comment added"
        credited = dispute_json(dispute)["credited"] if dispute.credited else None
        credited = f", credited {credited}" if credited else ""
        moved = f", to {dispute.reassigned_to.code}" if dispute.reassigned_to else ""
        return f"dispute {dispute.pk}: {dispute.state}{credited}{moved}"

    def _open(self, org, member, opts):
        statement = Statement.objects.filter(organization=org, number=opts["statement"]).first()
        if statement is None:
            raise CommandError(f'statement: "{opts["statement"]}" not found')
        try:
            lines = [int(x) for x in _split(opts["lines"])]
        except ValueError:
            raise CommandError(f'lines: "{opts["lines"]}" is not a list of line ids') from None
        return ops.open_dispute(
            membership=member,
            statement=statement,
            line_ids=lines,
            amount=opts["amount"],
            reason=opts["reason"],
            description=opts["text"],
            request_ids=_split(opts["request_ids"]),
        )

    def _report(self, org, opts):
        rows = period_report(org, _period(opts["period"]))
        if opts["format"] == "json":
            return json.dumps({"period": opts["period"], "rows": rows}, indent=2)
        out = io.StringIO()
        writer = safecsv.DictWriter(out, fieldnames=REPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = out.getvalue().rstrip("\n")
        return text if opts["format"] == "csv" else text.replace(",", "  ")

    def _list(self, org, opts):
        period = _period(opts["period"]) if opts["period"] else None
        rows = [dispute_json(d) for d in disputes_of(org, period=period)]
        if opts["format"] == "json":
            return json.dumps({"disputes": rows}, indent=2)
        cols = ("id", "statement", "unit", "state", "reason", "amount", "respond_by", "credited")
        table = [cols] + [tuple(str(r[c] if r[c] is not None else "-") for c in cols) for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
        lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in table]
        lines.append(f"{len(rows)} dispute(s)")
        return "\n".join(line.rstrip() for line in lines)


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def _split(text: str) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _member(org, email: str) -> Membership:
    member = (
        Membership.objects.filter(organization=org, user__email__iexact=email.strip())
        .select_related("user", "organization")
        .first()
    )
    if member is None:
        raise CommandError(f'by: "{email}" is not a member of {org.slug}')
    return member


def _dispute(org, pk: int) -> Dispute:
    dispute = Dispute.objects.filter(organization=org, pk=pk).first()
    if dispute is None:
        raise CommandError(f"dispute {pk} not found")
    return dispute


def _unit(org, code: str | None) -> BusinessUnit | None:
    if not code:
        return None
    unit = BusinessUnit.objects.filter(organization=org, code=code).first()
    if unit is None:
        raise CommandError(f'to-unit: unknown unit "{code}"')
    return unit
