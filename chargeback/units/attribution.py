"""Attribution (pure): which business unit owns an event, and by which evidence.

Order (first that applies wins; the method is recorded):
  1. team_tag         a `team` tag naming an active unit by code, or case-insensitively by name
  2. gateway_key      the gateway key id's unit
  3. provider_account the provider account/project mapped to a unit
  4. service          the owner of the service named in the `service` tag
  5. rule             the first ownership rule whose every field matches
  6. central          the central bucket (the fallback: "unallocated")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

TEAM_TAG = "team_tag"
GATEWAY_KEY = "gateway_key"
PROVIDER_ACCOUNT = "provider_account"
SERVICE = "service"
RULE = "rule"
CENTRAL = "central"
METHODS = (TEAM_TAG, GATEWAY_KEY, PROVIDER_ACCOUNT, SERVICE, RULE, CENTRAL)


@dataclass(frozen=True)
class Rule:
    match: Mapping[str, str]  # team, service, cost_center, environment, gateway_key
    unit_id: int


@dataclass(frozen=True)
class Directory:
    """What attribution needs to know about an organisation, loaded once per batch."""

    central_id: int
    units_by_code: Mapping[str, int] = field(default_factory=dict)  # code -> id (exact)
    units_by_name: Mapping[str, int] = field(default_factory=dict)  # lower(name or code) -> id
    gateway_keys: Mapping[str, int] = field(default_factory=dict)  # key id -> unit id
    gateway_key_services: Mapping[str, str] = field(default_factory=dict)  # key id -> service name
    provider_accounts: Mapping[tuple[str, str], int] = field(default_factory=dict)
    services: Mapping[str, int] = field(default_factory=dict)  # lower(service name) -> unit id
    rules: Sequence[Rule] = ()

    def team_unit(self, team: str | None) -> int | None:
        if not team:
            return None
        return self.units_by_code.get(team) or self.units_by_name.get(team.strip().lower())


@dataclass(frozen=True)
class Evidence:
    provider: str
    tags: Mapping[str, str]
    gateway_key_id: str | None = None
    provider_account: str | None = None


def attribute(evidence: Evidence, directory: Directory) -> tuple[int, str]:
    """(unit id, method) for one event."""
    unit = directory.team_unit(evidence.tags.get("team"))
    if unit:
        return unit, TEAM_TAG
    if evidence.gateway_key_id and evidence.gateway_key_id in directory.gateway_keys:
        return directory.gateway_keys[evidence.gateway_key_id], GATEWAY_KEY
    if evidence.provider_account:
        unit = directory.provider_accounts.get((evidence.provider, evidence.provider_account))
        if unit:
            return unit, PROVIDER_ACCOUNT
    service = evidence.tags.get("service")
    if service and service.strip().lower() in directory.services:
        return directory.services[service.strip().lower()], SERVICE
    values = dict(evidence.tags)
    if evidence.gateway_key_id:
        values["gateway_key"] = evidence.gateway_key_id
    for rule in directory.rules:
        if rule.match and all(values.get(k) == v for k, v in rule.match.items()):
            return rule.unit_id, RULE
    return directory.central_id, CENTRAL
