"""The configuration file's `reconciliation` section (DESIGN 6.2): the organisation's
reconciliation and readiness thresholds (`chargeback.reconciliation.thresholds`).

    reconciliation: {variance_threshold_pct: "2", attributable_threshold_pct: "95",
                     require_named_owners: true, absorb_grace_months: 1}

Percents as people write them ("2" is 2%; a whole number such as 95 is accepted too, a float is
refused), 0 to 100 with at most 2 decimals. A key left out takes its default (2, 95, true, 1),
like every entry of the file. Stored in chargeback.reconciliation.models.ReadinessPolicy.

`plan_config` here is the whole file's plan: the enforcement section's (which wraps the
others), then this section.
"""

from __future__ import annotations

from typing import Any

from chargeback.provisioning.config_disputes import add_section, known_keys
from chargeback.provisioning.config_enforcement import plan_config as plan_before
from chargeback.provisioning.config_format import kind_of
from chargeback.provisioning.config_plan import Change, Plan
from chargeback.reconciliation.thresholds import (
    DEFAULTS,
    FIELDS,
    MAX_GRACE_MONTHS,
    Thresholds,
    parse_percent,
    save_thresholds,
    thresholds_of,
)
from chargeback.tenancy.models import Organization

SECTION = "reconciliation"
PERCENTS = ("variance_threshold_pct", "attributable_threshold_pct")


def plan_config(organization: Organization, data: Any) -> Plan:
    """Validate the whole document and list what applying it would change. Writes nothing."""
    return add_section(
        plan_before(organization, data), organization, data, SECTION, plan_reconciliation
    )


def reconciliation_doc(organization: Organization) -> dict | None:
    """The section for the export, or None when every threshold is at its default."""
    doc = thresholds_of(organization).as_json()
    return None if doc == DEFAULTS.as_json() else doc


def plan_reconciliation(
    organization: Organization, value: Any, *, errors: list[str]
) -> Change | None:
    """The change the section makes (None when it matches); problems go to `errors`."""
    before = len(errors)
    if not known_keys(value, SECTION, FIELDS, errors):
        return None
    wanted: dict[str, Any] = {}
    for key in PERCENTS:
        try:
            wanted[key] = parse_percent(value.get(key, getattr(DEFAULTS, key)))
        except ValueError as exc:
            errors.append(f"{SECTION}.{key}: {exc}")
    named = value.get("require_named_owners", DEFAULTS.require_named_owners)
    if not isinstance(named, bool):
        errors.append(
            f"{SECTION}.require_named_owners: must be true or false, not {kind_of(named)}"
        )
    wanted["require_named_owners"] = named
    grace = value.get("absorb_grace_months", DEFAULTS.absorb_grace_months)
    if isinstance(grace, bool) or not isinstance(grace, int) or not 1 <= grace <= MAX_GRACE_MONTHS:
        errors.append(
            f"{SECTION}.absorb_grace_months: must be a whole number of months, 1 to "
            f"{MAX_GRACE_MONTHS}"
        )
    wanted["absorb_grace_months"] = grace
    if len(errors) > before:
        return None
    now, new = thresholds_of(organization).as_json(), Thresholds(**wanted).as_json()
    fields = [(k, now[k], new[k]) for k in FIELDS if now[k] != new[k]]
    if not fields:
        return None
    return Change(section=SECTION, action="update", key="", fields=fields, path=SECTION,
                  desired=new)  # fmt: skip


def apply_reconciliation(organization: Organization, desired: dict, *, actor: Any) -> None:
    """Store the section, with its audit event (old -> new)."""
    wanted = {k: parse_percent(v) if k in PERCENTS else v for k, v in desired.items()}
    save_thresholds(organization, Thresholds(**wanted), actor=actor)
