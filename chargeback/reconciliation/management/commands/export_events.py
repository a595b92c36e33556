"""`export_events --org SLUG --since 30d [--format csv|ndjson|focus] [--focus-version 1.3|1.0]
--output FILE` (DESIGN 6.3)."""

from django.core.management.base import CommandError

from chargeback.reconciliation.exports import ExportError, parse_since, write_events, write_focus
from chargeback.tenancy.scoping import OrgCommand


class Command(OrgCommand):
    help = (
        "Export the usage since a number of days (30d) or a date: the events as CSV or NDJSON, "
        "or FOCUS (one row per unit, day, provider and model; 1.3 by default, 1.0 for tools "
        "that read only 1.0). Streams to FILE."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, metavar="30d|YYYY-MM-DD")
        parser.add_argument("--format", choices=["csv", "ndjson", "focus"], default="csv")
        parser.add_argument("--focus-version", choices=["1.3", "1.0"], default="1.3")
        parser.add_argument("--output", required=True, metavar="FILE")

    def handle_org(self, org, *args, **opts):
        try:
            since = parse_since(opts["since"], org)
        except ExportError as exc:
            raise CommandError(str(exc)) from exc
        try:
            with open(opts["output"], "w", encoding="utf-8", newline="") as out:
                if opts["format"] == "focus":
                    count = write_focus(out, org, since, opts["focus_version"])
                else:
                    count = write_events(out, org, since, opts["format"])
        except OSError as exc:
            raise CommandError(f"output: cannot write {opts['output']}: {exc}") from exc
        return f"exported {count} row(s) since {since.isoformat()} to {opts['output']}"
