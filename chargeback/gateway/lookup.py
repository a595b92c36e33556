"""The first read of an authorization, in one statement: the organisation's enforcement
setting, the decision already stored for the request id, if any (both LEFT JOINed to one
row), and whether the organisation has any budget; sent with server-side parameters by
chargeback.sql.fetch_one."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from chargeback.budgets.models import Budget
from chargeback.gateway.models import Decision, Enforcement
from chargeback.sql import fetch_one
from chargeback.tenancy.models import Organization

ENFORCEMENT, DECISION = Enforcement._meta.db_table, Decision._meta.db_table
BUDGET = Budget._meta.db_table
SQL = f"""SELECT EXISTS (SELECT 1 FROM {BUDGET} b WHERE b.organization_id = %s),
    e.mode, e.approval_above_input_per_1m, d.id, d.allowed, d.reason, d.mode,
    d.reservation_id, d.reserved, d.wallet_available, d.budget_remaining
    FROM (SELECT 1) AS one
    LEFT JOIN {ENFORCEMENT} e ON e.organization_id = %s
    LEFT JOIN {DECISION} d ON d.organization_id = %s AND d.request_id = %s"""  # noqa: S608 (table names from the models)


@dataclass(frozen=True)
class First:
    """What the first read found."""

    setting: Enforcement
    decided: Stored | None  # None when the request was not decided yet
    has_budgets: bool


@dataclass(frozen=True)
class Stored:
    """What answering a decided request needs from its Decision row."""

    allowed: bool
    reason: str
    mode: str
    reservation_id: int | None
    reserved: Decimal | None
    wallet_available: Decimal | None
    budget_remaining: Decimal | None


def _decimal(value, places: int) -> Decimal | None:
    """A numeric column as Decimal (SQLite hands plain SQL a float: rounded to the field's
    places, as Django's own converter does)."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places))


def first_read(organization: Organization, request_id: str) -> First:
    """The setting (the defaults, unsaved, when the organisation has none), the stored
    decision for `request_id` and whether the organisation has budgets."""
    row = fetch_one(SQL, [organization.pk, organization.pk, organization.pk, request_id])
    has_budgets, mode, threshold, decision_id, *d = row
    setting = Enforcement(organization=organization)
    if mode is not None:
        setting.mode, setting.approval_above_input_per_1m = mode, _decimal(threshold, 6)
    if decision_id is None:
        return First(setting, None, bool(has_budgets))
    allowed, reason, d_mode, reservation_id, reserved, available, remaining = d
    stored = Stored(
        allowed=bool(allowed), reason=reason, mode=d_mode, reservation_id=reservation_id,
        reserved=_decimal(reserved, 4), wallet_available=_decimal(available, 4),
        budget_remaining=_decimal(remaining, 4),
    )  # fmt: skip
    return First(setting, stored, bool(has_budgets))
