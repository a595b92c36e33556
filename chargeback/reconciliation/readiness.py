"""Chargeback readiness (the auditor): for each unit and month, whether its charges can be
defended. With the default thresholds (`thresholds.thresholds_of`, editable per organisation),
a unit is ready when at least 95% of its spend is attributed by evidence (tags, keys, accounts,
services, rules) rather than the central fallback, the month's unexplained variance against the
provider invoices is at most 2%, and every production gateway key of the unit (and the unit)
has a named owner (a requirement the organisation may turn off). Quarantined spend, production traffic missing required tags and
keys used from more than one service or environment are listed too; everything to fix is
ranked by amount. `assess` is pure; `readiness_of` reads the rows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, Sum

from chargeback.calendar import Period, end_of_day, start_of_day
from chargeback.money import format_money, quantize
from chargeback.reconciliation.engine import family
from chargeback.reconciliation.models import ProviderInvoice
from chargeback.reconciliation.queries import billed_inputs, quarantined_records, reconciliation_of
from chargeback.reconciliation.thresholds import DEFAULTS, Thresholds, thresholds_of
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit, GatewayKey
from chargeback.usage.models import DailyUsage, UsageEvent

ZERO = Decimal(0)
SHARE = Decimal("0.0001")
FALLBACK = "central"
PRODUCTION = ("production", "prod")
TAG_FIELDS = ("team", "service", "cost_center", "environment", "workflow", "prompt_template")


@dataclass(frozen=True)
class Issue:
    amount: Decimal
    text: str
    link: str = ""  # a URL name of the page with the records behind it


@dataclass
class UnitFacts:
    """What the auditor knows of one unit's month."""

    code: str
    name: str
    spend: Decimal = ZERO
    fallback: Decimal = ZERO
    quarantined_cost: Decimal = ZERO
    quarantined_records: int = 0
    production_requests: int = 0
    missing_tag_requests: int = 0
    missing_tag_cost: Decimal = ZERO
    copied_keys: dict[str, Decimal] = field(default_factory=dict)
    ownerless_keys: list[str] = field(default_factory=list)
    unit_owner: str = ""


@dataclass(frozen=True)
class UnitReadiness:
    unit: str
    name: str
    spend: Decimal
    attributable_share: Decimal | None
    quarantined_cost: Decimal
    missing_tags_share: Decimal | None
    named_owner: bool
    copied_keys: tuple[str, ...]
    ready: bool
    issues: tuple[Issue, ...]

    @property
    def fix_first(self) -> str | None:
        return self.issues[0].text if self.issues else None


def _share(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(SHARE, rounding=ROUND_HALF_UP)


def assess(
    facts: UnitFacts,
    *,
    currency: str,
    unexplained_pct: Decimal | None,
    thresholds: Thresholds = DEFAULTS,
) -> UnitReadiness:
    """One unit's readiness and its issues, largest amount first. `unexplained_pct` is the
    month's (None: no provider invoice to reconcile against)."""
    money = lambda amount: format_money(amount, currency)  # noqa: E731
    attributable = _share(facts.spend - facts.fallback, facts.spend)
    named = bool(facts.unit_owner) and not facts.ownerless_keys
    issues = []
    if attributable is not None and attributable < thresholds.min_attributable:
        issues.append(Issue(facts.fallback, f"attribute {money(facts.fallback)} of fallback "
                            f"spend ({attributable:.2%} attributable, needs "
                            f"{thresholds.attributable_text})", "units:rule-list"))  # fmt: skip
    if facts.quarantined_records:
        issues.append(Issue(facts.quarantined_cost, f"fix and replay {facts.quarantined_records} "
                            f"quarantined record(s) ({money(facts.quarantined_cost)})",
                            "usage:quarantine-list"))  # fmt: skip
    if facts.missing_tag_requests:
        issues.append(Issue(facts.missing_tag_cost, f"tag {facts.missing_tag_requests} "
                            "production request(s) missing required tags "
                            f"({money(facts.missing_tag_cost)})", "usage:batch-list"))  # fmt: skip
    for key, cost in sorted(facts.copied_keys.items()):
        issues.append(Issue(cost, f"gateway key {key} is used from more than one service or "
                            f"environment ({money(cost)}): give each its own key",
                            "units:gatewaykey-list"))  # fmt: skip
    for key in facts.ownerless_keys:
        issues.append(Issue(facts.spend, f"name an owner for production gateway key {key}",
                            "units:gatewaykey-list"))  # fmt: skip
    if not facts.unit_owner:
        issues.append(Issue(facts.spend, "name the unit's owner", "units:unit-list"))
    variance_ok = unexplained_pct is not None and thresholds.variance_ok(unexplained_pct)
    if not variance_ok:
        text = (
            "import the month's provider invoices and reconcile"
            if unexplained_pct is None
            else f"explain the month's variance ({unexplained_pct}% unexplained, needs at most "
            f"{thresholds.variance_text})"
        )
        issues.append(Issue(facts.spend, text, "reconciliation:reconciliation"))
    ready = (
        attributable is not None
        and attributable >= thresholds.min_attributable
        and (named or not thresholds.require_named_owners)
        and variance_ok
    )
    issues.sort(key=lambda i: (-i.amount, i.text))
    return UnitReadiness(
        unit=facts.code,
        name=facts.name,
        spend=quantize(facts.spend, currency),
        attributable_share=attributable,
        quarantined_cost=quantize(facts.quarantined_cost, currency),
        missing_tags_share=_share(facts.missing_tag_requests, facts.production_requests),
        named_owner=named,
        copied_keys=tuple(sorted(facts.copied_keys)),
        ready=ready,
        issues=tuple(issues),
    )


def readiness_of(
    organization: Organization, period: Period, thresholds: Thresholds | None = None
) -> list[UnitReadiness]:
    """Every unit's readiness, by the organisation's thresholds unless `thresholds` is given."""
    thresholds = thresholds or thresholds_of(organization)
    facts = unit_facts(organization, period)
    unexplained = None
    if ProviderInvoice.objects.filter(organization=organization, month=period.first).exists():
        unexplained = reconciliation_of(organization, period).unexplained_pct or ZERO
    out = [
        assess(
            f, currency=organization.currency, unexplained_pct=unexplained, thresholds=thresholds
        )  # fmt: skip
        for f in facts.values()
    ]
    return sorted(out, key=lambda r: (r.ready, -(r.issues[0].amount if r.issues else ZERO),
                                      r.unit))  # fmt: skip


def unit_facts(organization: Organization, period: Period) -> dict[int, UnitFacts]:
    units = {u.pk: u for u in BusinessUnit.objects.filter(organization=organization)}
    facts: dict[int, UnitFacts] = {}

    def of(unit_id: int) -> UnitFacts:
        if unit_id not in facts:
            u = units[unit_id]
            facts[unit_id] = UnitFacts(u.code, u.name, unit_owner=u.owner_email or "")
        return facts[unit_id]

    rollup = DailyUsage.objects.filter(
        organization=organization, day__gte=period.first, day__lte=period.last
    )
    for row in rollup.values("unit_id", "attribution").annotate(cost=Sum("cost")).order_by():
        f = of(row["unit_id"])
        f.spend += row["cost"] or ZERO
        if row["attribution"] == FALLBACK:
            f.fallback += row["cost"] or ZERO
    tz = organization.tz
    events = UsageEvent.objects.filter(
        organization=organization,
        occurred_at__gte=start_of_day(period.first, tz),
        occurred_at__lt=end_of_day(period.last, tz),
    )
    _tags(organization, events, of)
    keys = {k.key_id: k for k in GatewayKey.objects.filter(organization=organization)}
    _copied_keys(events, keys, of)
    for key in keys.values():
        if key.archived or key.environment not in PRODUCTION or key.owner_email:
            continue
        if key.unit_id in facts or key.unit_id in units:
            of(key.unit_id).ownerless_keys.append(key.key_id)
    _quarantined(organization, period, units, keys, of)
    return facts


def _tags(organization: Organization, events, of) -> None:
    required = [t for t in (organization.required_tags or []) if t in TAG_FIELDS]
    missing = Q()
    for tag in required:
        missing |= Q(**{tag: ""})
    production = events.filter(environment__in=PRODUCTION)
    rows = production.values("unit_id").annotate(
        requests=Count("id"),
        missing=Count("id", filter=missing) if required else Count("id", filter=Q(pk__in=[])),
        missing_cost=Sum("cost", filter=missing) if required else Sum("cost", filter=Q(pk=None)),
    )
    for row in rows.order_by():
        f = of(row["unit_id"])
        f.production_requests += row["requests"]
        f.missing_tag_requests += row["missing"]
        f.missing_tag_cost += row["missing_cost"] or ZERO


def _copied_keys(events, keys: dict[str, GatewayKey], of) -> None:
    rows = (
        events.exclude(gateway_key_id="")
        .values("gateway_key_id")
        .annotate(
            services=Count("service", distinct=True),
            environments=Count("environment", distinct=True),
            cost=Sum("cost"),
        )
        .filter(Q(services__gt=1) | Q(environments__gt=1))
        .order_by()
    )
    for row in rows:
        key = keys.get(row["gateway_key_id"])
        if key is not None:
            of(key.unit_id).copied_keys[key.key_id] = row["cost"] or ZERO


def _quarantined(organization, period, units, keys, of) -> None:
    """Quarantined records of the month, each given to the unit its gateway key or team tag
    names, valued at the provider invoice's rate for its model where there is one. Production
    records refused for missing required tags count as production traffic missing them."""
    rates: dict[tuple, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for b in billed_inputs(organization, period):
        if b.amount > 0 and b.token_class in ("input", "output"):
            rates[(b.provider, family(b.model), b.token_class)][0] += b.quantity
            rates[(b.provider, family(b.model), b.token_class)][1] += b.amount
    by_code = {u.code: pk for pk, u in units.items()}
    for row, record, _day in quarantined_records(organization, period, all_reasons=True):
        key = keys.get(str(record.get("gateway_key_id") or ""))
        tags = record.get("tags") if isinstance(record.get("tags"), dict) else {}
        unit_id = key.unit_id if key else by_code.get(str(tags.get("team") or record.get("team")))
        if unit_id is None:
            continue
        f = of(unit_id)
        f.quarantined_records += 1
        before = f.quarantined_cost
        provider = str(record.get("provider") or "").lower()
        model = family(str(record.get("model") or ""))
        for cls, name in (("input", "input_tokens"), ("output", "output_tokens")):
            qty, amount = rates.get((provider, model, cls), (ZERO, ZERO))
            try:
                tokens = Decimal(int(record.get(name) or 0))
            except (TypeError, ValueError):
                tokens = ZERO
            if qty:
                f.quarantined_cost += tokens * amount / qty
        if row.reason == "missing_tag":  # production traffic without its required tags
            f.production_requests += 1
            f.missing_tag_requests += 1
            f.missing_tag_cost += f.quarantined_cost - before
