from django.core.management.base import BaseCommand

from chargeback.pricing.books import dump_prices, export_rows
from chargeback.tenancy.cli import get_org


class Command(BaseCommand):
    help = "Print the organisation's current price book as CSV or JSON."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organisation slug")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")
        parser.add_argument("--output", help="write to this file instead of standard output")

    def handle(self, *args, **opts):
        text = dump_prices(export_rows(get_org(opts["org"])), opts["format"])
        if opts["output"]:
            with open(opts["output"], "w", encoding="utf-8") as out:
                out.write(text)
        else:
            self.stdout.write(text, ending="")
