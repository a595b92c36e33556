"""A month of the DailyUsage rollup (and the posted outcome counts) as the allocation engine's
input, plus the evidence each statement prints. Reads the rollup only: a handful of GROUP BY
queries per month, however many units and events there are."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Case, F, IntegerField, Q, QuerySet, Sum, Value, When

from chargeback.allocation.engine import ModelUsage, MonthUsage, UnitUsage
from chargeback.billing.models import OutcomeCount
from chargeback.calendar import Period
from chargeback.tenancy.models import Organization
from chargeback.units.attribution import CENTRAL, TEAM_TAG
from chargeback.units.models import BusinessUnit
from chargeback.usage.models import DailyUsage, MonthlyUsage

ZERO = Decimal(0)
# Spend in these environments counts as experiments (the experimental allowance).
EXPERIMENT_ENVIRONMENTS = frozenset({"development", "dev", "experiment", "experimental", "sandbox"})
TOP = 5
MEMO_SECONDS = 3600


@dataclass
class UnitEvidence:
    """What a statement shows besides its lines."""

    services: list[tuple[str, Decimal]] = field(default_factory=list)  # top services by spend
    models: list[tuple[str, Decimal]] = field(default_factory=list)  # top provider/models
    prior_cost: Decimal = ZERO
    cost: Decimal = ZERO
    tagged_cost: Decimal = ZERO  # attributed by a validated team tag
    driver: str = ""  # the main cause of the change against the prior month

    @property
    def coverage(self) -> Decimal | None:
        return self.tagged_cost / self.cost if self.cost else None

    def as_json(self) -> dict:
        change = self.cost - self.prior_cost
        return {
            "services": [[name or "(no service)", str(cost)] for name, cost in self.services],
            "models": [[name, str(cost)] for name, cost in self.models],
            "cost": str(self.cost),
            "prior_cost": str(self.prior_cost),
            "change": str(change),
            "change_pct": str((change / self.prior_cost).quantize(Decimal("0.0001")))
            if self.prior_cost
            else None,
            "driver": self.driver,
            "coverage": str(self.coverage.quantize(Decimal("0.0001")))
            if self.coverage is not None
            else None,
        }


@dataclass
class Month:
    usage: MonthUsage
    units: dict[str, BusinessUnit]  # by code: every unit of the organisation
    evidence: dict[str, UnitEvidence]
    cost: Decimal
    requests: int


def month_usage(
    organization: Organization,
    period: Period,
    *,
    fixed_fees: bool = False,
    members: frozenset[str] | None = None,
    central: str | None = None,
    evidence: bool = True,
    memo: bool = False,
    methods: bool = True,
) -> Month:
    """The engine's input for the month. With `fixed_fees` (a policy whose fixed platform fee goes to
    all units), every active unit takes part even without usage.

    Re-running a month that was issued passes the units it billed (`members`) and its central
    bucket (`central`), so a unit archived or added since does not change the re-run.

    Without `evidence` the statements' evidence (the prior month's drivers) is not read. With
    `memo` the month's grouped rollup rows are kept in the cache under the month's rollup
    totals (`month_totals`: every event written adds a request), so a page that previews the
    month reads them again only once usage has been added to it. Without `methods` the units'
    spend by attribution method (which only a policy's confidence gate reads) is left out."""
    units = _units(organization)
    by_id = {u.pk: u for u in units.values()}
    if central is None:
        central = next((u.code for u in units.values() if u.is_central), "")
    # Grouped by unit, service and model; environment and attribution only matter through
    # the three filtered sums, so they stay out of the GROUP BY (far fewer groups to sort).
    # Usage that fell back to the central bucket belongs to the month's central unit, even if
    # the central flag has moved since it was ingested (or since the month was issued).
    central_id = units[central].pk if central in units else None
    owner = (
        Case(
            When(attribution=CENTRAL, then=Value(central_id)),
            default=F("unit_id"),
            output_field=IntegerField(),
        )
        if central_id is not None
        else F("unit_id")
    )
    rows, by_method = (
        _grouped_rows(organization, period, central_id, owner, methods)
        if memo
        else (
            _month_query(organization, period, owner),
            _methods(organization, period) if methods else {},
        )
    )
    month_methods = {by_id[u].code: m for u, m in by_method.items() if u in by_id}
    return _month(
        organization, period, rows, month_methods, units, by_id, central, members, fixed_fees,
        evidence,
    )  # fmt: skip


def _month_query(organization: Organization, period: Period, owner) -> QuerySet:
    return (
        _month_rows(organization, period)
        .annotate(owner=owner)
        .values_list("owner", "service", "provider", "model")
        .annotate(
            sum_cost=Sum("cost"),
            sum_error_cost=Sum("error_cost"),
            sum_input=Sum("input_tokens"),
            sum_output=Sum("output_tokens"),
            sum_requests=Sum("requests"),
            sum_errors=Sum("errors"),
            sum_hit=Sum("cache_hit_tokens"),
            experiment_cost=Sum("cost", filter=Q(environment__in=EXPERIMENT_ENVIRONMENTS)),
            tagged_cost=Sum("cost", filter=Q(attribution=TEAM_TAG)),
            central_cost=Sum("cost", filter=Q(attribution=CENTRAL)),
        )
        .order_by()
    )


def _grouped_rows(
    organization: Organization, period: Period, central_id, owner, methods: bool
) -> tuple:
    """(the month's grouped rows, its units' spend by attribution method if asked), memoised."""
    created = organization.created_at.timestamp() if organization.created_at else ""
    cost, requests = month_totals(organization, period)
    key = (
        f"month-usage:{organization.pk}:{created}:{period.label}:{central_id}:{cost}:{requests}"
        f":{methods}"
    )
    found = cache.get(key)
    if found is None:
        by_method = _methods(organization, period) if methods else {}
        found = (list(_month_query(organization, period, owner)), by_method)
        cache.set(key, found, MEMO_SECONDS)
    return found


def _month(
    organization, period, rows, methods, units, by_id, central, members, fixed_fees, with_evidence
):
    models: dict[str, dict[tuple[str, str], list]] = defaultdict(dict)
    services: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    experiment: dict[str, Decimal] = defaultdict(Decimal)
    evidence: dict[str, UnitEvidence] = defaultdict(UnitEvidence)
    unallocated = ZERO
    total_cost, total_requests = ZERO, 0
    for row in rows:
        (
            unit_id,
            service,
            provider,
            model,
            cost,
            err,
            inp,
            out,
            req,
            errs,
            hit,
            exp,
            tagged,
            fallback,
        ) = row
        code = by_id[unit_id].code
        cost, err = Decimal(cost), Decimal(err)
        acc = models[code].setdefault((provider, model), [ZERO, ZERO, 0, 0, 0, 0, 0])
        acc[0] += cost
        acc[1] += err
        acc[2] += inp
        acc[3] += out
        acc[4] += req
        acc[5] += errs
        acc[6] += hit
        services[code][service] += cost
        if exp is not None:
            experiment[code] += Decimal(exp)
        ev = evidence[code]
        ev.cost += cost
        if tagged is not None:
            ev.tagged_cost += Decimal(tagged)
        if fallback is not None:
            unallocated += Decimal(fallback)
        total_cost += cost
        total_requests += req
    outcomes: dict[str, dict[str, int]] = defaultdict(dict)
    for unit_id, outcome, count in OutcomeCount.objects.filter(
        organization=organization, month=period.first
    ).values_list("unit_id", "outcome", "count"):
        if unit_id in by_id:
            outcomes[by_id[unit_id].code][outcome] = count
    codes = set(models) | set(outcomes)
    if fixed_fees:
        codes |= members if members is not None else {c for c, u in units.items() if not u.archived}
    unit_usages = []
    for code in sorted(codes):
        unit_usages.append(
            UnitUsage(
                code,
                tuple(
                    ModelUsage(p, m, a[0], a[2], a[3], a[4], a[5], a[1], a[6])
                    for (p, m), a in sorted(models.get(code, {}).items())
                ),
                tuple(sorted(services.get(code, {}).items())),
                tuple(sorted(outcomes.get(code, {}).items())),
                experiment.get(code, ZERO),
                methods.get(code, ()),
            )
        )
    if with_evidence:
        _prior_and_drivers(organization, period, by_id, models, evidence)
    for code, ev in evidence.items():
        ev.services = sorted(services[code].items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
        ev.models = sorted(
            ((f"{p}/{m}", a[0]) for (p, m), a in models[code].items()),
            key=lambda kv: (-kv[1], kv[0]),
        )[:TOP]
    usage = MonthUsage(
        currency=organization.currency,
        central=central,
        units=tuple(unit_usages),
        unallocated=unallocated,
    )
    return Month(usage, units, dict(evidence), total_cost, total_requests)


def _methods(organization, period) -> dict[int, tuple]:
    """Each unit's spend by attribution method, by unit id (the fallback's is the central
    bucket's): the confidence gate charges a unit only for its confidently attributed spend."""
    out: dict[int, list] = defaultdict(list)
    rows = (
        _month_rows(organization, period)
        .exclude(attribution=CENTRAL)
        .values_list("unit_id", "attribution")
        .annotate(Sum("cost"), Sum("error_cost"))
        .order_by("unit_id", "attribution")
    )
    for unit_id, method, cost, error_cost in rows:
        out[unit_id].append((method, Decimal(cost), Decimal(error_cost)))
    return {unit_id: tuple(rows) for unit_id, rows in out.items()}


def _units(organization: Organization) -> dict[str, BusinessUnit]:
    return {u.code: u for u in BusinessUnit.objects.filter(organization=organization)}


def _month_rows(organization: Organization, period: Period):
    return DailyUsage.objects.filter(
        organization=organization, day__gte=period.first, day__lte=period.last
    )


def _prior_and_drivers(organization, period, by_id, models, evidence) -> None:
    """The prior month's cost per unit, and the model whose spend moved most."""
    before = period.previous
    prior_models: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for unit_id, provider, model, cost in (
        _month_rows(organization, before)
        .values_list("unit_id", "provider", "model")
        .annotate(Sum("cost"))
        .order_by()
    ):
        unit = by_id.get(unit_id)
        if unit is None:
            continue
        prior_models[unit.code][f"{provider}/{model}"] = Decimal(cost)
    for code, ev in evidence.items():
        now = {f"{p}/{m}": a[0] for (p, m), a in models.get(code, {}).items()}
        then = prior_models.get(code, {})
        ev.prior_cost = sum(then.values(), ZERO)
        moves = sorted(
            ((now.get(k, ZERO) - then.get(k, ZERO), k) for k in set(now) | set(then)),
            key=lambda mv: (-abs(mv[0]), mv[1]),
        )
        if moves and moves[0][0]:
            delta, name = moves[0]
            if name not in then:
                ev.driver = f"new spend on {name}"
            elif name not in now:
                ev.driver = f"no more spend on {name}"
            else:
                ev.driver = f"{'more' if delta > 0 else 'less'} spend on {name}"


def month_totals(organization: Organization, period: Period) -> tuple[Decimal, int]:
    """The month's rollup cost and requests (to tell whether drafts are still current), from
    the monthly rollup's unit rows (the same sums as the month's DailyUsage rows)."""
    agg = MonthlyUsage.objects.filter(
        organization=organization, month=period.first, dimension=MonthlyUsage.UNIT
    ).aggregate(cost=Sum("cost"), requests=Sum("requests"))
    return Decimal(agg["cost"] or 0), int(agg["requests"] or 0)
