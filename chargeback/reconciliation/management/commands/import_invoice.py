"""`import_invoice --org SLUG --period YYYY-MM FILE [--format csv|focus]` (DESIGN 6.3)."""

from pathlib import Path

from django.core.management.base import CommandError

from chargeback.calendar import Period, is_month
from chargeback.reconciliation.invoice_files import InvoiceFileError
from chargeback.reconciliation.invoices import import_invoice, read_invoice_file
from chargeback.tenancy.scoping import OrgCommand


class Command(OrgCommand):
    help = (
        "Import a provider invoice for a month: a CSV of lines (provider,model,token_class,"
        "quantity,amount,currency[,day,sku]) or a FOCUS 1.x cost and usage CSV. One problem "
        "refuses the file, and nothing is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, metavar="YYYY-MM")
        parser.add_argument("file", metavar="FILE")
        parser.add_argument("--format", choices=["csv", "focus"], default="csv")

    def handle_org(self, org, *args, **opts):
        if not is_month(opts["period"]):
            raise CommandError(f'period: "{opts["period"]}" is not a month (YYYY-MM)')
        period = Period.parse(opts["period"])
        path = Path(opts["file"])
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"file: cannot read {path}: {exc}") from exc
        try:
            lines = read_invoice_file(org, period, text, opts["format"])
            invoices = import_invoice(
                organization=org, period=period, lines=lines, source=opts["format"],
                actor="command:import_invoice", filename=path.name,
            )  # fmt: skip
        except InvoiceFileError as exc:
            for error in exc.errors[1:]:
                self.stderr.write(str(error))
            raise CommandError(str(exc.errors[0])) from exc
        out = [
            f"invoice {inv.pk}: {inv.provider} {period.label} lines={inv.lines.count()} "
            f"total={inv.total.normalize():f} {inv.currency}"
            for inv in invoices
        ]
        return "\n".join(out)
