"""Planning the configuration file's `policy` section: one allocation policy (a mapping) or a
list of them, each with its `effective_from` month. A version is matched by its month; versions
the file does not mention are left alone. Reads the organization; writes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from chargeback.allocation.models import AllocationPolicy
from chargeback.allocation.policy import Policy, PolicyError, parse_policy, policy_doc
from chargeback.billing.policy_versions import lock_reason
from chargeback.calendar import Period
from chargeback.tenancy.models import Organization


def plan_policy(
    organization: Organization,
    value: Any,
    *,
    units: Mapping[str, bool],
    services: set[str],
    errors: list[str],
) -> list[dict]:
    """The changes (as `Change` keyword arguments) the section makes; problems go to `errors`."""
    if isinstance(value, list):
        entries = [(f"policy[{i}]", v) for i, v in enumerate(value)]
    else:
        entries = [("policy", value)]
    existing = {v.month: v for v in AllocationPolicy.objects.filter(organization=organization)}
    default = _doc(Policy())
    changes: list[dict] = []
    seen: set[str] = set()
    for path, data in entries:
        try:
            policy = parse_policy(data, path=path, units=units, require_month=True)
        except PolicyError as exc:
            errors.extend(exc.errors)
            continue
        failed = False
        for i, pool in enumerate(policy.pools):
            if pool.service and pool.service not in services:
                errors.append(f'{path}.pools[{i}].source: unknown service "{pool.service}"')
                failed = True
        month = policy.effective_from or ""
        if month in seen:
            errors.append(f"{path}.effective_from: a second policy for {month} in the file")
            failed = True
        seen.add(month)
        if failed:
            continue
        doc, current = _doc(policy), existing.get(month)
        if current is None:
            fields = [(k, None, _brief(v)) for k, v in doc.items() if default.get(k) != v]
            action = "create"
        elif current.policy != policy:
            old = _doc(current.policy)
            fields = [(k, _brief(old.get(k)), _brief(v)) for k, v in doc.items() if old.get(k) != v]
            action = "update"
        else:
            continue
        reason = lock_reason(organization, Period.parse(month).first)
        if reason:
            errors.append(f"{path}.effective_from: {reason}")
            continue
        changes.append(
            {
                "section": "policy",
                "action": action,
                "key": month,
                "fields": fields,
                "path": path,
                "target": current.pk if current else None,
                "desired": {"policy": policy},
            }
        )
    return changes


def _doc(policy: Policy) -> dict:
    doc = policy_doc(policy)
    doc.pop("effective_from", None)
    return doc


def _brief(value: Any) -> Any:
    """Lists and mappings as one line of YAML flow text."""
    if isinstance(value, list | dict):
        return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**6).strip()
    return value
