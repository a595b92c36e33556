import io
import json
from decimal import Decimal

from django.core.management.base import CommandError

from chargeback import safecsv as csv
from chargeback.calendar import Period
from chargeback.money import quantize
from chargeback.tenancy.scoping import OrgCommand
from chargeback.usage.spend import spend_report


class Command(OrgCommand):
    help = "Spend per business unit for a month: requests, tokens, cost and share, then unallocated and total."

    def add_arguments(self, parser):
        parser.add_argument(
            "--period", help="YYYY-MM (default: the current month in the org's timezone)"
        )
        parser.add_argument(
            "--all", action="store_true", help="include archived and zero-spend units"
        )
        parser.add_argument("--format", choices=["table", "json", "csv"], default="table")

    def handle_org(self, org, *args, **opts):
        try:
            period = Period.parse(opts["period"]) if opts["period"] else Period.current(org.tz)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        report = spend_report(org, period, include_all=opts["all"])
        if opts["format"] == "json":
            self.stdout.write(json.dumps(report, indent=2))
        elif opts["format"] == "csv":
            self._csv(report)
        else:
            self._table(report)

    def _csv(self, report: dict) -> None:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["code", "name", "requests", "input_tokens", "output_tokens", "cost", "share"]
        )
        for u in report["units"]:
            writer.writerow(
                [
                    u["code"],
                    u["name"],
                    u["requests"],
                    u["input_tokens"],
                    u["output_tokens"],
                    u["cost"],
                    u["share"],
                ]
            )
        writer.writerow(
            [
                "(unallocated)",
                "",
                report["unallocated"]["requests"],
                "",
                "",
                report["unallocated"]["cost"],
                "",
            ]
        )
        t = report["total"]
        writer.writerow(
            ["(total)", "", t["requests"], t["input_tokens"], t["output_tokens"], t["cost"], "1"]
        )
        self.stdout.write(out.getvalue(), ending="")

    def _table(self, report: dict) -> None:
        cur = report["currency"]

        def money(text: str) -> str:
            return f"{quantize(Decimal(text), cur):,}"

        head = f"{'unit':<14} {'name':<28} {'requests':>12} {'input tokens':>16} {'output tokens':>16} {'cost ' + cur:>16} {'share':>7}"
        self.stdout.write(f"Spend for {report['organization']}, {report['period']} ({cur})")
        self.stdout.write(head)
        self.stdout.write("-" * len(head))
        for u in report["units"]:
            share = f"{Decimal(u['share']) * 100:.1f}%"
            self.stdout.write(
                f"{u['code']:<14} {u['name'][:28]:<28} {u['requests']:>12,} {u['input_tokens']:>16,} {u['output_tokens']:>16,} {money(u['cost']):>16} {share:>7}"
            )
        self.stdout.write("-" * len(head))
        un = report["unallocated"]
        self.stdout.write(
            f"{'unallocated':<43} {un['requests']:>12,} {'':>16} {'':>16} {money(un['cost']):>16}"
        )
        t = report["total"]
        self.stdout.write(
            f"{'total':<43} {t['requests']:>12,} {t['input_tokens']:>16,} {t['output_tokens']:>16,} {money(t['cost']):>16} {'100.0%':>7}"
        )
