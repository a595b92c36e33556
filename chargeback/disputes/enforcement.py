"""The enforcement list: keys and tags behind costs no unit owned.

A `wrong_owner` dispute accepted (or partially) with no right unit sends its amount to the
central bucket under the organisation's absorb policy (`Organization.dispute_absorb_policy`,
the `disputes: absorb_policy` config key; by default "the platform absorbs it once, then the
gateway enforces tags"), and the key or tag that caused it is listed here for enforcement.

The cause is read from the requests behind the dispute: its request ids when it names them,
else the unit's requests of the month on the disputed usage lines' models (all of them for a
dispute of the whole statement). The gateway key that cost the most is listed; without one,
the team tag; without either, the item says so (finance then looks at the dispute).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Sum

from chargeback.audit.log import record
from chargeback.calendar import start_of_day
from chargeback.disputes.models import Dispute, EnforcementItem
from chargeback.usage.models import UsageEvent


def cause(dispute: Dispute) -> tuple[str, str]:
    """("key" | "tag" | "unknown", value) for the requests behind the dispute."""
    statement = dispute.statement
    org = dispute.organization
    month = statement.period.month
    following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    events = UsageEvent.objects.filter(
        organization=org,
        unit_id=dispute.unit_id,
        occurred_at__gte=start_of_day(month, org.tz),
        occurred_at__lt=start_of_day(following, org.tz),
    )
    if dispute.request_ids:
        events = events.filter(request_id__in=dispute.request_ids)
    else:
        models = [
            t.line.ref.split("/", 1)
            for t in dispute.targets.select_related("line")
            if t.line.kind == "usage" and "/" in t.line.ref
        ]
        if models:
            events = events.filter(
                provider__in={p for p, _m in models}, model__in={m for _p, m in models}
            )
    for kind, column in (("key", "gateway_key_id"), ("tag", "team")):
        top = (
            events.exclude(**{column: ""})
            .values(column)
            .annotate(cost=Sum("cost"))
            .order_by("-cost", column)
            .first()
        )
        if top:
            return kind, (top[column] if kind == "key" else f"team={top[column]}")
    return "unknown", ""


def absorb(dispute: Dispute, day: dt.date, *, actor: object) -> EnforcementItem:
    """List the dispute's cause for enforcement (once; inside the resolving transaction)."""
    kind, value = cause(dispute)
    org = dispute.organization
    item = EnforcementItem.objects.create(
        organization=org,
        dispute=dispute,
        kind=kind,
        value=value[:200],
        amount=dispute.credited,
        currency=dispute.statement.currency,
        policy=org.dispute_absorb_policy,
        absorbed_on=day,
    )
    record(
        organization=org,
        actor=actor,
        action="dispute.absorb",
        obj=dispute,
        after={"kind": kind, "value": value, "amount": str(dispute.credited),
               "policy": org.dispute_absorb_policy},
    )  # fmt: skip
    return item
