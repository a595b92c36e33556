from django.core.management.base import CommandError

from chargeback.pricing.books import (
    PriceFileError,
    currency_errors,
    import_prices,
    parse_prices,
)
from chargeback.tenancy.cli import format_from, read_text
from chargeback.tenancy.scoping import OrgCommand


class Command(OrgCommand):
    help = "Import a price file (CSV or JSON, the columns of DESIGN.md 6.3) as a new price version."

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to the price file")
        parser.add_argument(
            "--format", choices=["csv", "json"], help="default: from the file name, else csv"
        )
        parser.add_argument("--label", default="", help="a name for the new version")

    def handle_org(self, org, *args, **opts):
        text = read_text(opts["file"])
        try:
            rows = parse_prices(text, format_from(opts["file"], opts["format"], ("csv", "json")))
            if errors := currency_errors(org, rows):
                raise PriceFileError(errors)
        except PriceFileError as exc:
            for error in exc.errors:
                self.stderr.write(error)
            raise CommandError(
                f"{opts['file']}: {len(exc.errors)} error(s), nothing imported"
            ) from exc
        version, changes = import_prices(
            org,
            rows,
            actor="command:import_prices",
            label=opts["label"] or f"Import of {opts['file']}",
        )
        for change in changes:
            self.stdout.write(change)
        if version is None:
            self.stdout.write(f"no changes: all {len(rows)} prices are already in force")
        else:
            self.stdout.write(
                f"price version {version.number}: {len(changes)} price(s) added or changed"
            )
