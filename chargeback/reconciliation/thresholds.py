"""The organisation's reconciliation and readiness thresholds, in one place: the close gate
(`gate.py`), the readiness auditor (`readiness.py`) and "absorb once, then enforce"
(`absorb.py`) all read `thresholds_of`, and `save_thresholds` is the only writer (the page and
the configuration file's `reconciliation` section), with an audit event naming old -> new.

Percent values are percents as people type them: 2 means 2%."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from chargeback.audit.log import record
from chargeback.numbers import percent_rate
from chargeback.reconciliation.models import ReadinessPolicy
from chargeback.tenancy.models import Organization

MAX_GRACE_MONTHS = 36
PERCENT_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class Thresholds:
    variance_threshold_pct: Decimal = Decimal(2)  # unexplained variance, percent of billed
    attributable_threshold_pct: Decimal = Decimal(95)  # share of spend attributed, percent
    require_named_owners: bool = True
    absorb_grace_months: int = 1

    @property
    def min_attributable(self) -> Decimal:
        """The attributable threshold as a share (0.95)."""
        return self.attributable_threshold_pct / 100

    @property
    def variance_text(self) -> str:
        return percent_rate(self.variance_threshold_pct / 100)  # "2%"

    @property
    def attributable_text(self) -> str:
        return percent_rate(self.min_attributable)  # "95%"

    def variance_ok(self, unexplained_pct: Decimal) -> bool:
        """The one rule: a variance passes when it is at most the threshold, either way."""
        return abs(unexplained_pct) <= self.variance_threshold_pct

    def as_json(self) -> dict[str, Any]:
        return {k: (f"{v.normalize():f}" if isinstance(v, Decimal) else v)
                for k, v in asdict(self).items()}  # fmt: skip


DEFAULTS = Thresholds()
FIELDS = tuple(asdict(DEFAULTS))


def parse_percent(value: Any) -> Decimal:
    """A percent as people type it ("2", "2.5", "95 %", or a whole number) -> Decimal, 0 to
    100 with at most 2 decimals; ValueError says what is wrong."""
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise ValueError('must be a percent such as "2" (quoted in the file: a float is refused)')
    text = str(value).strip().removesuffix("%").strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise ValueError(f'"{str(value)[:20]}" is not a percent: type a number such as 2')
    if not 0 <= number <= 100:
        raise ValueError(f"{text} is not between 0 and 100 (percent)")
    if number != number.quantize(PERCENT_PLACES):
        raise ValueError(f"{text}: at most 2 decimal places")
    return number.quantize(PERCENT_PLACES)


def thresholds_of(organization: Organization) -> Thresholds:
    """The organisation's thresholds (the defaults until finance changes them)."""
    row = ReadinessPolicy.objects.filter(organization=organization).first()
    return DEFAULTS if row is None else _of(row)


def _of(row: ReadinessPolicy) -> Thresholds:
    return Thresholds(
        variance_threshold_pct=Decimal(row.variance_threshold_pct),
        attributable_threshold_pct=Decimal(row.attributable_threshold_pct),
        require_named_owners=row.require_named_owners,
        absorb_grace_months=row.absorb_grace_months,
    )


def save_thresholds(organization: Organization, wanted: Thresholds, *, actor: Any) -> bool:
    """Store `wanted` (created lazily with the defaults); False when nothing changed. The audit
    event carries the fields that changed, old and new."""
    with transaction.atomic():
        row, _ = ReadinessPolicy.objects.select_for_update().get_or_create(
            organization=organization
        )
        before = _of(row)
        if before == wanted:
            return False
        for name in FIELDS:
            setattr(row, name, getattr(wanted, name))
        row.save()
        old, new = before.as_json(), wanted.as_json()
        changed = [name for name in FIELDS if old[name] != new[name]]
        record(
            organization=organization,
            actor=actor,
            action="reconciliation.thresholds_updated",
            obj=row,
            before={name: old[name] for name in changed},
            after={name: new[name] for name in changed},
        )
    return True
