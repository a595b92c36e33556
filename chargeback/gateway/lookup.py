"""The reads of an authorization, in as few statements as the checks allow, sent with
server-side parameters by chargeback.sql.fetch_one:

- `first_read`, one statement: the organisation's enforcement setting, the decision already
  stored for the request id, whether the organisation has any budget, the price book's
  fingerprint, and the gateway key with its unit and the id of the unit's team wallet (each
  LEFT JOINed to one row);
- `lock_wallet`, one statement inside the decision's transaction: the team wallet's row, locked.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from chargeback.budgets.models import Budget
from chargeback.gateway.models import Decision, Enforcement
from chargeback.pricing.models import ModelAlias, PriceVersion
from chargeback.sql import Columns, fetch_one
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit, GatewayKey
from chargeback.wallets.models import Wallet, WalletKind

ENFORCEMENT, DECISION = Enforcement._meta.db_table, Decision._meta.db_table
BUDGET, KEY, WALLET = Budget._meta.db_table, GatewayKey._meta.db_table, Wallet._meta.db_table
VERSION, ALIAS = PriceVersion._meta.db_table, ModelAlias._meta.db_table
UNIT = Columns(BusinessUnit, "u")
WALLET_ROW = Columns(Wallet, "w")
# Parameters: organisation x6, request id, organisation, gateway key id, organisation.
SQL = f"""SELECT EXISTS (SELECT 1 FROM {BUDGET} b WHERE b.organization_id = %s),
    (SELECT max(v.id) || ' ' || max(v.created_at) FROM {VERSION} v WHERE v.organization_id = %s),
    (SELECT count(*) FROM {ALIAS} a WHERE a.organization_id = %s),
    (SELECT max(a.id) || ' ' || max(a.created_at) FROM {ALIAS} a WHERE a.organization_id = %s),
    e.mode, e.approval_above_input_per_1m, d.id, d.allowed, d.reason, d.mode,
    d.reservation_id, d.reserved, d.wallet_available, d.budget_remaining,
    k.id, k.environment, w.id, {UNIT.sql}
    FROM (SELECT 1) AS one
    LEFT JOIN {ENFORCEMENT} e ON e.organization_id = %s
    LEFT JOIN {DECISION} d ON d.organization_id = %s AND d.request_id = %s
    LEFT JOIN {KEY} k ON k.organization_id = %s AND k.key_id = %s AND NOT k.archived
    LEFT JOIN {UNIT.model._meta.db_table} u ON u.id = k.unit_id
    LEFT JOIN {WALLET} w ON w.organization_id = %s AND w.unit_id = k.unit_id
        AND w.kind = '{WalletKind.TEAM.value}'"""  # noqa: S608 (table names from the models)
LOCK = (
    f"SELECT {WALLET_ROW.sql} FROM {WALLET} w WHERE w.id = %s AND w.organization_id = %s FOR UPDATE"  # noqa: S608, E501
)
LOCK_SQLITE = LOCK.removesuffix(" FOR UPDATE")  # SQLite locks the database on write instead


@dataclass(frozen=True)
class Key:
    """The gateway key the request names (one of the organisation's active keys)."""

    pk: int
    environment: str
    unit: BusinessUnit
    team_wallet_id: int | None


@dataclass(frozen=True)
class First:
    """What the first read found."""

    setting: Enforcement
    decided: Stored | None  # None when the request was not decided yet
    has_budgets: bool
    # Changes whenever the price book or its aliases change (ids and creation times: SQLite
    # may hand a rolled-back id out again).
    prices: tuple
    key: Key | None  # None: not one of the organisation's active keys


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


def first_read(organization: Organization, request_id: str, gateway_key_id: str) -> First:
    """The setting (the defaults, unsaved, when the organisation has none), the stored
    decision for `request_id`, whether the organisation has budgets, the price book's
    fingerprint and the gateway key."""
    org = organization.pk
    row = fetch_one(SQL, [org, org, org, org, org, org, request_id, org, gateway_key_id, org])
    has_budgets, *prices = row[:4]
    mode, threshold, decision_id, *d = row[4:14]
    key_pk, environment, wallet_id = row[14:17]
    setting = Enforcement(organization=organization)
    if mode is not None:
        setting.mode, setting.approval_above_input_per_1m = mode, _decimal(threshold, 6)
    key = None
    if key_pk is not None:
        unit = UNIT.build(row[17:])
        unit.organization = organization
        key = Key(pk=key_pk, environment=environment, unit=unit, team_wallet_id=wallet_id)
    stored = None
    if decision_id is not None:
        allowed, reason, d_mode, reservation_id, reserved, available, remaining = d
        stored = Stored(
            allowed=bool(allowed), reason=reason, mode=d_mode, reservation_id=reservation_id,
            reserved=_decimal(reserved, 4), wallet_available=_decimal(available, 4),
            budget_remaining=_decimal(remaining, 4),
        )  # fmt: skip
    return First(setting, stored, bool(has_budgets), tuple(prices), key)


def lock_wallet(organization: Organization, key: Key) -> Wallet | None:
    """The key's team wallet, its row locked until the open transaction ends (fresh), with
    its organisation and unit attached; None when the unit has none."""
    if key.team_wallet_id is None:
        return None
    sql = LOCK if connection.vendor == "postgresql" else LOCK_SQLITE
    row = fetch_one(sql, [key.team_wallet_id, organization.pk])
    if row is None:  # deleted since the first read
        return None
    wallet = WALLET_ROW.build(row)
    wallet.organization, wallet.unit = organization, key.unit
    return wallet
