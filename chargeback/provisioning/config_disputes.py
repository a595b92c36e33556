"""The configuration file's `disputes` section (DESIGN 6.2): the dispute calendar.

    disputes: {review_days: 5, response_days: 5, closure_days: ["2026-12-24"],
               absorb_policy: "the platform absorbs it once, then the gateway enforces tags"}

`review_days`: business days after issue during which a statement may be disputed;
`response_days`: business days finance has to answer a dispute; `closure_days`: the
organisation's own closure days, which are not business days; `absorb_policy`: who absorbs a
cost no unit owns (a wrong-owner dispute accepted with no right unit), in the words the
statements and the enforcement list print. A key left out takes its default (5, 5, none, the
default wording), like every entry of the file. Stored on the organisation.

`plan_config` here is the whole file's plan: the structure's (`config_plan`), then this section.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chargeback.audit.log import record
from chargeback.calendar import DISPUTE_WINDOW_DAYS, parse_closure_days
from chargeback.provisioning.config_format import kind_of
from chargeback.provisioning.config_plan import Change, Plan
from chargeback.provisioning.config_plan import plan_config as plan_structure
from chargeback.tenancy.models import DEFAULT_ABSORB_POLICY, Organization

KEYS = {"review_days": "dispute_review_days", "response_days": "dispute_response_days"}
DEFAULTS = {"review_days": DISPUTE_WINDOW_DAYS, "response_days": DISPUTE_WINDOW_DAYS}
MAX_DAYS = 60
MAX_POLICY = 300
ALLOWED = "review_days, response_days, closure_days, absorb_policy"


def plan_config(organization: Organization, data: Any) -> Plan:
    """Validate the whole document and list what applying it would change. Writes nothing."""
    return add_section(plan_structure(organization, data), organization, data, "disputes",
                       plan_disputes)  # fmt: skip


def add_section(plan: Plan, organization: Organization, data: Any, section: str,
                planner: Callable[..., Change | None]) -> Plan:  # fmt: skip
    """The whole file's `plan` with `section`'s change (`planner(organization, value,
    errors=...)`) added; any error in the file leaves the plan without changes."""
    if isinstance(data, dict) and data.get(section) is not None:
        errors: list[str] = []
        change = planner(organization, data[section], errors=errors)
        plan.errors.extend(errors)
        if change and not plan.errors:
            plan.changes.append(change)
        if plan.errors:
            plan.changes = []
    return plan


def known_keys(value: Any, section: str, keys: tuple[str, ...], errors: list[str]) -> bool:
    """Whether the section is a mapping (else an error); each unknown key of it is an error."""
    if not isinstance(value, dict):
        errors.append(f"{section}: must be a mapping, not {kind_of(value)}")
        return False
    errors.extend(f"{section}.{key}: unknown key (allowed: {', '.join(keys)})"
                  for key in value if key not in keys)  # fmt: skip
    return True


def current(organization: Organization) -> dict:
    """The organisation's dispute calendar as the section describes it."""
    return {
        "review_days": organization.dispute_review_days,
        "response_days": organization.dispute_response_days,
        "closure_days": [d.isoformat() for d in parse_closure_days(organization.closure_days)],
        "absorb_policy": organization.dispute_absorb_policy,
    }


def disputes_doc(organization: Organization) -> dict | None:
    """The section for the export, or None when everything is at its default."""
    doc = current(organization)
    if doc["absorb_policy"] == DEFAULT_ABSORB_POLICY:
        del doc["absorb_policy"]  # written out only when the organisation has its own wording
    if doc == {**DEFAULTS, "closure_days": []}:
        return None
    return doc


def plan_disputes(organization: Organization, value: Any, *, errors: list[str]) -> Change | None:
    """The change the section makes (None when it matches); problems go to `errors`."""
    if not isinstance(value, dict):
        errors.append(f"disputes: must be a mapping, not {kind_of(value)}")
        return None
    wanted: dict[str, Any] = {}
    for key in value:
        if key not in (*KEYS, "closure_days", "absorb_policy"):
            errors.append(f"disputes.{key}: unknown key (allowed: {ALLOWED})")
    for key, default in DEFAULTS.items():
        days = value.get(key, default)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            errors.append(
                f"disputes.{key}: must be a whole number of business days, 1 to {MAX_DAYS}"
            )
            continue
        wanted[key] = days
    try:
        wanted["closure_days"] = [
            d.isoformat() for d in parse_closure_days(value.get("closure_days") or [])
        ]
    except ValueError as exc:
        errors.append(f"disputes.{exc}")
    policy = value.get("absorb_policy", DEFAULT_ABSORB_POLICY)
    if not isinstance(policy, str) or not policy.strip() or len(policy.strip()) > MAX_POLICY:
        errors.append(f"disputes.absorb_policy: must be a text of 1 to {MAX_POLICY} characters")
    else:
        wanted["absorb_policy"] = policy.strip()
    if len(wanted) < 4:
        return None
    now = current(organization)
    fields = [(k, now[k], v) for k, v in wanted.items() if now[k] != v]
    if not fields:
        return None
    return Change(
        section="disputes", action="update", key="", fields=fields, path="disputes", desired=wanted
    )


def apply_disputes(organization: Organization, desired: dict, *, actor: Any) -> None:
    """Store the section on the organisation, with its audit event."""
    before = current(organization)
    for key, field in KEYS.items():
        setattr(organization, field, desired[key])
    organization.closure_days = list(desired["closure_days"])
    organization.dispute_absorb_policy = desired["absorb_policy"]
    organization.save(update_fields=[*KEYS.values(), "closure_days", "dispute_absorb_policy"])
    record(
        organization=organization,
        actor=actor,
        action="organization.updated",
        obj=organization,
        before={"disputes": before},
        after={"disputes": current(organization)},
    )
