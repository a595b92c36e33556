import datetime as dt

from django.core.management.base import CommandError

from chargeback.tenancy.scoping import OrgCommand
from chargeback.usage.repricing import plan_repricing, reprice_range


def _day(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f'{name}: "{text}" is not a date (YYYY-MM-DD)') from exc


class Command(OrgCommand):
    help = (
        "Re-price the events of a past range with the current price book. Events keep their "
        "original cost; the differences are recorded as audited adjustments."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--from", dest="first", required=True, help="first day, YYYY-MM-DD (org timezone)"
        )
        parser.add_argument(
            "--to", dest="last", required=True, help="last day, YYYY-MM-DD (inclusive)"
        )
        parser.add_argument("--note", default="", help="why (required unless --dry-run)")
        parser.add_argument("--dry-run", action="store_true", help="only show what would change")

    def handle_org(self, org, *args, **opts):
        first, last = _day(opts["first"], "--from"), _day(opts["last"], "--to")
        try:
            if opts["dry_run"]:
                plan = plan_repricing(org, first, last)
                examined, changed, delta = plan.examined, plan.changed, plan.total_delta
            else:
                run = reprice_range(
                    organization=org,
                    first_day=first,
                    last_day=last,
                    note=opts["note"],
                    actor="command:reprice",
                )
                examined, changed, delta = (
                    run.events_examined,
                    run.events_changed,
                    run.total_delta,
                )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        verb = "would change" if opts["dry_run"] else "changed"
        self.stdout.write(
            f"re-pricing {first}..{last}: {examined} events examined, {changed} {verb}, difference {delta:f} {org.currency}"
        )
