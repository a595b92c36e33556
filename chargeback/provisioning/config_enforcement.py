"""The configuration file's `enforcement` section (DESIGN 6.2): how gateway authorization
answers, and which models need an admin's approval.

    enforcement: {mode: observe, approval_above_input_per_1m: null}   # mode: off | observe | enforce

`mode`: `off` always allows and records nothing; `observe` always allows and records what it
would deny; `enforce` denies. `approval_above_input_per_1m`: production use of a model whose
input price per 1M tokens is above this needs an approval per unit (null: none needed). A key
left out takes its default (observe, null), like every entry of the file. Stored in
chargeback.gateway.models.Enforcement.

`plan_config` here is the whole file's plan: the disputes section's (which wraps the
structure's), then this section.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from chargeback.audit.log import record
from chargeback.gateway.models import Enforcement, Mode
from chargeback.provisioning.config_disputes import add_section, known_keys
from chargeback.provisioning.config_disputes import plan_config as plan_before
from chargeback.provisioning.config_format import kind_of
from chargeback.provisioning.config_plan import Change, Plan
from chargeback.tenancy.models import Organization

SECTION = "enforcement"
KEYS = ("mode", "approval_above_input_per_1m")
DEFAULTS = {"mode": Mode.OBSERVE.value, "approval_above_input_per_1m": None}


def plan_config(organization: Organization, data: Any) -> Plan:
    """Validate the whole document and list what applying it would change. Writes nothing."""
    return add_section(
        plan_before(organization, data), organization, data, SECTION, plan_enforcement
    )


def current(organization: Organization) -> dict:
    row = Enforcement.objects.filter(organization=organization).first()
    if row is None:
        return dict(DEFAULTS)
    threshold = row.approval_above_input_per_1m
    return {
        "mode": row.mode,
        "approval_above_input_per_1m": None if threshold is None else _text(threshold),
    }


def _text(value: Decimal) -> str:
    """A price as the file writes it: a quoted decimal without trailing zeros ("3", "2.5")."""
    text = format(value.normalize(), "f")
    return text


def enforcement_doc(organization: Organization) -> dict | None:
    """The section for the export, or None when everything is at its default."""
    doc = current(organization)
    return None if doc == DEFAULTS else doc


def _threshold(value: Any, errors: list[str]) -> str | None:
    path = f"{SECTION}.approval_above_input_per_1m"
    if value is None:
        return None
    if isinstance(value, bool | float):
        errors.append(f'{path}: write the price as a quoted decimal ("3.00"), not {kind_of(value)}')
        return None
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors.append(f'{path}: "{value}" is not a decimal price')
        return None
    if not amount.is_finite() or amount < 0 or amount >= Decimal(10) ** 12:
        errors.append(f"{path}: must be a price per 1M input tokens, zero or more")
        return None
    if amount != amount.quantize(Decimal("0.000001")):
        errors.append(f"{path}: at most 6 decimal places")
        return None
    return _text(amount)


def plan_enforcement(organization: Organization, value: Any, *, errors: list[str]) -> Change | None:
    """The change the section makes (None when it matches); problems go to `errors`."""
    before = len(errors)
    if not known_keys(value, SECTION, KEYS, errors):
        return None
    mode = value.get("mode", DEFAULTS["mode"])
    if mode is False:  # YAML 1.1 reads a bare `off` as false
        mode = Mode.OFF.value
    if mode not in Mode.values:
        errors.append(f"{SECTION}.mode: must be one of {', '.join(Mode.values)}, not {mode!r}")
    wanted = {"mode": mode, "approval_above_input_per_1m": _threshold(
        value.get("approval_above_input_per_1m"), errors)}  # fmt: skip
    if len(errors) > before:
        return None
    now = current(organization)
    fields = [(k, now[k], v) for k, v in wanted.items() if now[k] != v]
    if not fields:
        return None
    return Change(section=SECTION, action="update", key="", fields=fields, path=SECTION,
                  desired=wanted)  # fmt: skip


def apply_enforcement(organization: Organization, desired: dict, *, actor: Any) -> None:
    """Store the section, with its audit event."""
    before = current(organization)
    threshold = desired["approval_above_input_per_1m"]
    row, _ = Enforcement.objects.update_or_create(
        organization=organization,
        defaults={
            "mode": desired["mode"],
            "approval_above_input_per_1m": None if threshold is None else Decimal(threshold),
        },
    )
    record(organization=organization, actor=actor, action="gateway.enforcement_updated",
           obj=row, before=before, after=current(organization))  # fmt: skip
