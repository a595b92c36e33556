"""`readiness --org SLUG --period YYYY-MM [--format table|json]` (DESIGN 6.3)."""

import json

from django.core.management.base import CommandError

from chargeback.calendar import Period, is_month
from chargeback.reconciliation.readiness import readiness_of
from chargeback.reconciliation.thresholds import DEFAULTS, Thresholds, thresholds_of
from chargeback.tenancy.scoping import OrgCommand


def _s(value):
    return None if value is None else f"{value:f}"


def readiness_json(rows, period: Period, thresholds: Thresholds | None = None) -> dict:
    return {
        "period": period.label,
        "thresholds": (thresholds or DEFAULTS).as_json(),
        "units": [
            {
                "unit": r.unit,
                "spend": _s(r.spend),
                "attributable_share": _s(r.attributable_share),
                "quarantined_cost": _s(r.quarantined_cost),
                "missing_tags_share": _s(r.missing_tags_share),
                "named_owner": r.named_owner,
                "copied_keys": list(r.copied_keys),
                "ready": r.ready,
                "fix_first": r.fix_first,
            }
            for r in rows
        ],
    }


class Command(OrgCommand):
    help = (
        "Chargeback readiness per unit for a month: attribution coverage, quarantined spend, "
        "production traffic missing required tags, copied keys, named owners; ready or not, "
        "and what to fix first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, metavar="YYYY-MM")
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle_org(self, org, *args, **opts):
        if not is_month(opts["period"]):
            raise CommandError(f'period: "{opts["period"]}" is not a month (YYYY-MM)')
        period = Period.parse(opts["period"])
        thresholds = thresholds_of(org)
        rows = readiness_of(org, period, thresholds)
        if opts["format"] == "json":
            return json.dumps(readiness_json(rows, period, thresholds), indent=2)
        if not rows:
            return f"{period.label}: no spend"
        out = [f"{'unit':<14}{'spend':>14}{'attributable':>14}  ready  fix first"]
        for r in rows:
            share = "-" if r.attributable_share is None else f"{r.attributable_share:.2%}"
            out.append(f"{r.unit:<14}{r.spend:>14}{share:>14}  {'yes' if r.ready else 'no ':<5}"
                       f"  {r.fix_first or ''}")  # fmt: skip
        return "\n".join(out)
