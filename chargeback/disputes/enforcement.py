"""The enforcement list: keys and tags behind costs no unit owned.

A `wrong_owner` dispute accepted (or partially) with no right unit sends its amount to the
central bucket under the organisation's absorb policy (`Organization.dispute_absorb_policy`,
the `disputes: absorb_policy` config key; by default "the platform absorbs it once, then the
gateway enforces tags"), and the key or tag that caused it is listed here for enforcement.

The cause is read from the requests behind the dispute: its request ids when it names them,
else the unit's requests of the month on the disputed usage lines' models (all of them for a
dispute of the whole statement). The gateway key that cost the most is listed; without one,
the team tag; without either, the item says so (finance then looks at the dispute).
Finance may name the cause instead when resolving (`named_cause`): one of the organisation's
gateway keys, or a team tag its requests carry.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Sum

from chargeback.audit.log import record
from chargeback.calendar import start_of_day
from chargeback.disputes.models import Dispute, EnforcementItem
from chargeback.units.models import GatewayKey
from chargeback.usage.models import UsageEvent

TAG_PREFIX = "team="


class CauseRefused(ValueError):
    """A named cause that is not one of the organisation's keys or tags (field-named)."""


def named_cause(
    organization: object, *, key_pk: object = None, key_id: str = "", tag: str = ""
) -> tuple[str, str] | None:
    """("key", key id) or ("tag", "team=X") that finance names, or None when none is named.
    A key is named by its id in this organisation (`key_pk`: the pages and the API) or by its
    gateway key id (`key_id`: the command); a tag as `team=X` or `X`, X being a team this
    organisation's requests carry. Another organisation's key or tag is refused as unknown."""
    key_pk = "" if key_pk is None else str(key_pk).strip()
    key_id, tag = (key_id or "").strip(), (tag or "").strip()
    field = "cause_key" if key_pk or key_id else "cause_tag"
    if (key_pk or key_id) and tag:
        raise CauseRefused("cause_tag: name a gateway key or a tag, not both")
    if key_pk or key_id:
        keys = GatewayKey.objects.filter(organization=organization)
        if key_pk:
            if not key_pk.isdigit() or len(key_pk) > 18:
                raise CauseRefused(f'{field}: "{key_pk[:40]}" is not a gateway key id number')
            found = keys.filter(pk=int(key_pk)).first()
        else:
            found = keys.filter(key_id=key_id).first()
        if found is None:
            raise CauseRefused(f"{field}: no such gateway key in this organisation")
        return "key", found.key_id
    if not tag:
        return None
    team = tag.removeprefix(TAG_PREFIX).strip()
    if not team or len(team) > 190:
        raise CauseRefused(f'cause_tag: "{tag[:40]}" is not a team tag (team=NAME)')
    if not UsageEvent.objects.filter(organization=organization, team=team).exists():
        raise CauseRefused(f"cause_tag: no request of this organisation carries {TAG_PREFIX}{team}")
    return "tag", f"{TAG_PREFIX}{team}"


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
            return kind, (top[column] if kind == "key" else f"{TAG_PREFIX}{top[column]}")
    return "unknown", ""


def absorb(
    dispute: Dispute, day: dt.date, *, actor: object, named: tuple[str, str] | None = None
) -> EnforcementItem:
    """List the dispute's cause for enforcement (once; inside the resolving transaction):
    the one finance `named`, else the one the disputed requests show."""
    kind, value = named or cause(dispute)
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
               "policy": org.dispute_absorb_policy,
               "named": bool(named)},
    )  # fmt: skip
    return item
