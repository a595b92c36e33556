from chargeback.pricing.books import dump_prices, export_rows
from chargeback.tenancy.scoping import OrgCommand


class Command(OrgCommand):
    help = "Print the organisation's current price book as CSV or JSON."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["csv", "json"], default="csv")
        parser.add_argument("--output", help="write to this file instead of standard output")

    def handle_org(self, org, *args, **opts):
        text = dump_prices(export_rows(org), opts["format"])
        if opts["output"]:
            with open(opts["output"], "w", encoding="utf-8") as out:
                out.write(text)
        else:
            self.stdout.write(text, ending="")
