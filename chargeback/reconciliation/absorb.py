"""Absorb once, then enforce: spend from a gateway key that attributes to no unit (it falls
back to the central bucket) is absorbed by the central bucket in the key's first month (the
first `absorb_grace_months` months: the organisation's threshold, 1 by default); from the month
after the grace period on, the key is flagged until it is mapped to a unit. Computed
from the events, so mapping the key ends it: its new events attribute by the key. `status` is
pure; `unmapped_keys` reads the events. The gateway's `authorize` asks `key_flagged` about a
key it does not know, and refuses a flagged one even in observe mode."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Min, Q, Sum

from chargeback.calendar import Period, end_of_day, local_today, start_of_day
from chargeback.money import quantize
from chargeback.reconciliation.thresholds import DEFAULTS, thresholds_of
from chargeback.tenancy.models import Organization
from chargeback.usage.models import UsageEvent

GRACE_MONTHS = DEFAULTS.absorb_grace_months  # months in which a key's spend is absorbed
ABSORBED = "absorbed"
FLAGGED = "flagged"
FALLBACK = "central"


@dataclass(frozen=True)
class UnmappedKey:
    key_id: str
    first_month: Period  # the first month with spend from it that fell back to central
    cost: Decimal  # this month's spend from it absorbed by the central bucket
    requests: int
    status: str  # ABSORBED or FLAGGED


def months_between(first: dt.date, later: dt.date) -> int:
    return (later.year - first.year) * 12 + later.month - first.month


def status(first_month: dt.date, month: dt.date, grace_months: int = GRACE_MONTHS) -> str:
    """ABSORBED within the key's first `grace_months` months (its first month at least),
    FLAGGED after."""
    return ABSORBED if months_between(first_month, month) < max(grace_months, 1) else FLAGGED


def unmapped_keys(
    organization: Organization, period: Period, grace_months: int | None = None
) -> list[UnmappedKey]:
    """The gateway keys with spend in `period` that fell back to the central bucket, flagged
    ones first, then by amount. The grace period is the organisation's unless given."""
    if grace_months is None:
        grace_months = thresholds_of(organization).absorb_grace_months
    tz = organization.tz
    start, end = start_of_day(period.first, tz), end_of_day(period.last, tz)
    in_month = Q(occurred_at__gte=start)
    rows = (
        UsageEvent.objects.filter(
            organization=organization, attribution=FALLBACK, occurred_at__lt=end
        )
        .exclude(gateway_key_id="")
        .values("gateway_key_id")
        .annotate(
            first=Min("occurred_at"),
            cost=Sum("cost", filter=in_month),
            requests=Count("id", filter=in_month),
        )
        .filter(requests__gt=0)
        .order_by()
    )
    out = []
    for row in rows:
        first = Period.of(row["first"].astimezone(start.tzinfo).date())
        out.append(
            UnmappedKey(
                key_id=row["gateway_key_id"],
                first_month=first,
                cost=quantize(row["cost"] or Decimal(0), organization.currency),
                requests=row["requests"],
                status=status(first.first, period.first, grace_months),
            )
        )
    return sorted(out, key=lambda k: (k.status != FLAGGED, -k.cost, k.key_id))


def flagged_keys(organization: Organization, period: Period) -> set[str]:
    """The key ids past their grace period with spend still unattributed in `period`."""
    return {k.key_id for k in unmapped_keys(organization, period) if k.status == FLAGGED}


# (organisation, key id, month) -> (when asked, flagged): authorize asks on every request with a key
# it does not know, so the answer is kept for a minute (a month's status hardly moves in one).
_ASKED: dict[tuple, tuple[float, bool]] = {}
_ASKED_FOR = 60.0
_ASKED_KEPT = 5000


def key_flagged(organization: Organization, key_id: str, now: dt.datetime) -> bool:
    """Whether spend from `key_id` fell back to the central bucket in a month that is past
    its grace period by `now`'s month (the key is not mapped yet: the caller knows)."""
    month = Period.of(local_today(organization.tz, now)).first
    memo = (organization.pk, organization.created_at, key_id, month)
    clock = now.timestamp()
    asked = _ASKED.get(memo)
    if asked is not None and 0 <= clock - asked[0] < _ASKED_FOR:
        return asked[1]
    first = (
        UsageEvent.objects.filter(
            organization=organization, attribution=FALLBACK, gateway_key_id=key_id
        )
        .order_by()
        .aggregate(first=Min("occurred_at"))["first"]
    )
    grace = thresholds_of(organization).absorb_grace_months
    flagged = (
        first is not None and status(local_today(organization.tz, first), month, grace) == FLAGGED
    )
    if len(_ASKED) >= _ASKED_KEPT:
        _ASKED.clear()
    _ASKED[memo] = (clock, flagged)
    return flagged
