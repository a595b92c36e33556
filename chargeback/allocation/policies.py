"""The checks on a policy that need the organisation (unit codes that exist and are not
archived, services that exist), which the pure parser in policy.py cannot make, and the month
arithmetic of policy versions. Saving a version, which must respect the months whose statements
are issued, is `billing.policy_versions.save_policy`."""

from __future__ import annotations

from typing import Any

from chargeback.allocation.policy import Policy, PolicyError, parse_policy
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit, Service


def check_policy(organization: Organization, data: Any, *, path: str = "policy") -> Policy:
    """Parse a policy document (with its `effective_from`) against the organisation: every
    unit it names must exist and not be archived, every `service:<name>` pool source must be
    a service of the organisation. Raises PolicyError with every problem, path-named."""
    units = dict(
        BusinessUnit.objects.filter(organization=organization).values_list("code", "archived")
    )
    errors: list[str] = []
    policy = None
    try:
        policy = parse_policy(data, path=path, units=units, require_month=True)
    except PolicyError as exc:
        errors += exc.errors
    services = set(Service.objects.filter(organization=organization).values_list("name", flat=True))
    pools = data.get("pools") if isinstance(data, dict) else None
    for i, pool in enumerate(pools if isinstance(pools, list) else []):
        source = pool.get("source") if isinstance(pool, dict) else None
        if isinstance(source, str) and source.startswith("service:"):
            name = source[len("service:") :].strip()
            if name and name not in services:
                errors.append(f'{path}.pools[{i}].source: unknown service "{name}"')
    if errors:
        raise PolicyError(errors)
    return policy  # type: ignore[return-value]
