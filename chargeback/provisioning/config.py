"""The organisation structure as a file (DESIGN 6.2): parse, plan, apply and export.

Example (YAML; the same document as JSON is accepted too)::

    units:            # code = cost-center code, unique per org; parent = a code or null
      - {code: PLAT, name: Platform, parent: null, owner: raj@example.com, central: true, kind: division}
      - {code: SUP, name: Support, parent: PLAT, owner: ana@example.com, billing_mode: chargeback}
    services:
      - {name: ticket-summarizer, unit: SUP, kind: service, description: Summarises tickets}
    gateway_keys:     # a gateway's key id -> its unit, service and owner
      - {key_id: gk-support-prod, unit: SUP, service: ticket-summarizer, environment: production, owner: ana@example.com}
    provider_accounts:
      - {provider: openai, account: proj_support, unit: SUP}
    ownership_rules:  # ordered; first match wins
      - {match: {service: ticket-summarizer}, unit: SUP}
      - {match: {team: support, environment: production}, unit: SUP, description: Support traffic}
    required_tags: [team, service, cost_center, environment]

How a file is applied:

- Every section is optional. Units are matched by code, services by name, gateway keys by
  key_id, provider accounts by (provider, account). An entry describes its whole row: an
  optional key left out takes its default (kind team or service, billing_mode showback,
  environment production, archived false, no description), not the row's current value.
  `environment: null` or `""` means any environment.
- Rows of the organization that the file does not mention are left alone, never deleted.
  The exception is `ownership_rules`, which is the ordered list of active rules: an existing
  rule with the same match and unit is kept (moved or restored as needed), missing ones are
  created, and active rules not in the file are archived. Positions become 1..n in file
  order, and are rewritten only when the order of the active rules changes.
- `central: true` marks the central bucket (at most one unit). The flag moves only that way:
  leaving `central` out of the current central unit does not clear it. If the marked code is
  not in the organization and the current central unit's code is not in the file, the current
  central unit is renamed to the marked code (so a fresh organization's CENTRAL becomes the
  file's central unit); otherwise the marked unit takes the flag from it.
- `policy` is the allocation policy (`chargeback.allocation.policy`): one mapping, or a list of
  them for several months, each with its `effective_from` month. A version is created or
  replaced whole by its month; versions not in the file are left alone.
- `budgets` (`chargeback.provisioning.config_budgets`): one monthly budget per unit code;
  budgets not in the file are left alone.
- `reconciliation` (`chargeback.provisioning.config_reconciliation`): the reconciliation and
  readiness thresholds.
- A file with any error changes nothing. A file that matches the organization changes nothing
  and writes no audit event. Otherwise each changed row gets its own audit event (through
  `save_entity`) and the import one `config.imported`, all in one transaction.

`export_config` writes the same format (units in tree order, archived rows with
`archived: true`, the active ownership rules in order), and applying an export is a fixed point.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import yaml
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, transaction

from chargeback.allocation.models import AllocationPolicy
from chargeback.allocation.policy import policy_doc
from chargeback.audit.log import record
from chargeback.billing.policy_versions import save_policy
from chargeback.provisioning.config_budgets import apply_budget, export_budgets
from chargeback.provisioning.config_disputes import apply_disputes, disputes_doc
from chargeback.provisioning.config_enforcement import apply_enforcement, enforcement_doc
from chargeback.provisioning.config_format import (
    SECTIONS,
    TAGS,
    account_doc,
    key_doc,
    kind_of,
    service_doc,
    unit_doc,
)
from chargeback.provisioning.config_plan import Change, Plan
from chargeback.provisioning.config_reconciliation import (
    apply_reconciliation,
    plan_config,
    reconciliation_doc,
)
from chargeback.provisioning.config_wallets import apply_wallet, export_wallets
from chargeback.tenancy.models import Organization
from chargeback.units.models import (
    MATCH_FIELDS,
    BusinessUnit,
    GatewayKey,
    OwnershipRule,
    ProviderAccount,
    Service,
)
from chargeback.units.queries import tree_rows
from chargeback.units.structure import save_entity
from chargeback.wording import json_problem, plural

__all__ = [
    "FORMATS",
    "SECTIONS",
    "TAGS",
    "Change",
    "ConfigError",
    "Plan",
    "apply_config",
    "decode_config",
    "dump_config",
    "export_config",
    "parse_config",
    "plan_config",
]
FORMATS = ("yaml", "json")


class ConfigError(ValidationError):
    """A file that cannot be applied. `errors` lists every problem, each led by its path."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__(self.errors)

    def __str__(self) -> str:
        return plural(len(self.errors), "error") + " in the configuration"


# Parsing -----------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            with contextlib.suppress(TypeError):  # unhashable: the base constructor reports it
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f'duplicate key "{key}"', key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError) as exc:  # e.g. the date 2026-13-45
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value ({exc}); quote it", node.start_mark
            ) from None


def decode_config(raw: bytes) -> str:
    """Uploaded or read bytes -> text; anything but UTF-8 is an error naming the line."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            [
                f"line {line}: the file is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8"
            ]
        ) from None


def parse_config(text: str) -> dict:
    """YAML or JSON text -> the document. Syntax errors carry their line number."""
    try:
        data = _load(text)
    except RecursionError:
        raise ConfigError(["the file is nested too deeply"]) from None
    if data is None:
        raise ConfigError(["the file is empty"])
    if not isinstance(data, dict):
        raise ConfigError([f"the file must be a mapping of sections, not {kind_of(data)}"])
    return data


def _load(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        if not text.lstrip().startswith(("{", "[")):
            raise ConfigError([_yaml_message(exc, text)]) from None
    return _parse_json(text)  # JSON that YAML refuses, e.g. indented with tabs


def _yaml_message(exc: yaml.YAMLError, text: str) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        line = text[: exc.position].count("\n") + 1
        return f"line {line}: the character #x{exc.character:04x} is not allowed in the file"
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    context = getattr(exc, "context", None)
    hint = " (indent with spaces, not tabs)" if "'\\t'" in problem else ""
    return f"{where}{problem}{hint}" + (f" ({context})" if context else "")


def _parse_json(text: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict:
        out: dict = {}
        for key, value in items:
            if key in out:
                raise ConfigError([f'duplicate key "{key}" in a JSON object'])
            out[key] = value
        return out

    try:
        return json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            [f"line {exc.lineno}, column {exc.colno}: {json_problem(exc.msg)}"]
        ) from None


# Applying ----------------------------------------------------------------------------------


def apply_config(organization: Organization, data: Any, *, actor: Any) -> Plan:
    """Plan, then apply every change in one transaction, or raise ConfigError with all errors."""
    with transaction.atomic():
        plan = plan_config(organization, data)
        if plan.errors:
            raise ConfigError(plan.errors)
        for change in plan.changes:
            try:
                _apply(organization, change, actor)
            except ValidationError as exc:
                raise ConfigError(_messages(change.path, exc)) from exc
            except (IntegrityError, ObjectDoesNotExist) as exc:  # changed since the plan
                raise ConfigError(
                    [f"{change.path}: the organization changed meanwhile; preview the file again"]
                ) from exc
        if plan.changes:
            record(
                organization=organization,
                actor=actor,
                action="config.imported",
                object_type="config",
                object_repr=plural(len(plan.changes), "change"),
                after={"changes": [str(c) for c in plan.changes], "notes": plan.notes},
            )
    return plan


def _apply(org: Organization, change: Change, actor: Any) -> None:
    d = change.desired
    if change.section == "policy":
        save_policy(organization=org, policy=d["policy"], actor=actor)
        return
    if change.section == "budgets":
        apply_budget(org, change, actor)
        return
    if change.section == "wallets":
        apply_wallet(org, change, actor)
        return
    if change.section == "disputes":
        apply_disputes(org, d, actor=actor)
        return
    if change.section == "enforcement":
        apply_enforcement(org, d, actor=actor)
        return
    if change.section == "reconciliation":
        apply_reconciliation(org, d, actor=actor)
        return
    if change.section == "required_tags":
        before = {"required_tags": org.required_tags}
        org.required_tags = d["required_tags"]
        org.save(update_fields=["required_tags"])
        record(
            organization=org,
            actor=actor,
            action="organization.updated",
            obj=org,
            before=before,
            after={"required_tags": org.required_tags},
        )
        return
    model = {
        "units": BusinessUnit,
        "services": Service,
        "gateway_keys": GatewayKey,
        "provider_accounts": ProviderAccount,
        "ownership_rules": OwnershipRule,
    }[change.section]
    if change.target is None:
        obj = model(organization=org)
    else:
        obj = model.objects.get(organization=org, pk=change.target)
    if change.action == "archive":
        obj.archived = True
        save_entity(actor=actor, obj=obj, validate=False)
        return
    if change.section == "units":
        obj.code, obj.name, obj.owner_email = d["code"], d["name"], d["owner"]
        obj.billing_mode, obj.kind, obj.archived = d["billing_mode"], d["kind"], d["archived"]
        obj.parent = _unit(org, d["parent"])
        obj.is_central = obj.is_central or d["central"]
    elif change.section == "services":
        obj.name, obj.kind, obj.description = d["name"], d["kind"], d["description"]
        obj.unit, obj.archived = _unit(org, d["unit"]), d["archived"]
    elif change.section == "gateway_keys":
        obj.key_id, obj.environment, obj.owner_email = d["key_id"], d["environment"], d["owner"]
        obj.unit, obj.archived = _unit(org, d["unit"]), d["archived"]
        obj.service = (
            Service.objects.get(organization=org, name=d["service"]) if d["service"] else None
        )
    elif change.section == "provider_accounts":
        obj.provider, obj.account, obj.unit = d["provider"], d["account"], _unit(org, d["unit"])
    else:
        for name in MATCH_FIELDS:
            setattr(obj, f"match_{name}", d["match"].get(name, ""))
        obj.position, obj.description = d["position"], d["description"]
        obj.unit, obj.archived = _unit(org, d["unit"]), False
    save_entity(actor=actor, obj=obj, validate=not getattr(obj, "archived", False))


def _messages(path: str, exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{path}.{name}: {m}" for name, msgs in exc.message_dict.items() for m in msgs]
    return [f"{path}: {m}" for m in exc.messages]


def _unit(org: Organization, code: str | None) -> BusinessUnit | None:
    return None if code is None else BusinessUnit.objects.get(organization=org, code=code)


# Export ------------------------------------------------------------------------------------


def export_config(organization: Organization) -> dict:
    """The organization's structure in the file format; `apply_config` of it changes nothing."""
    units = list(BusinessUnit.objects.filter(organization=organization).select_related("parent"))
    out_units = []
    for unit, _depth in tree_rows(units):
        doc = unit_doc(unit, unit.parent.code if unit.parent_id else None)
        entry = {k: doc[k] for k in ("code", "name", "parent", "owner", "billing_mode")}
        if unit.is_central:
            entry["central"] = True
        entry["kind"] = doc["kind"]
        out_units.append(_flags(entry, unit.archived))
    services = Service.objects.filter(organization=organization).select_related("unit")
    keys = GatewayKey.objects.filter(organization=organization).select_related("unit", "service")
    accounts = ProviderAccount.objects.filter(organization=organization).select_related("unit")
    rules = (
        OwnershipRule.objects.filter(organization=organization, archived=False)
        .select_related("unit")
        .order_by("position", "id")
    )
    versions = AllocationPolicy.objects.filter(organization=organization).order_by("effective_from")
    policies = [policy_doc(v.policy) for v in versions]
    out = {
        "units": out_units,
        "services": [
            _flags(service_doc(s, s.unit.code), s.archived, drop_empty="description")
            for s in services.order_by("name")
        ],
        "gateway_keys": [
            _flags(key_doc(k, k.unit.code), k.archived) for k in keys.order_by("key_id")
        ],
        "provider_accounts": [
            account_doc(a, a.unit.code) for a in accounts.order_by("provider", "account")
        ],
        "ownership_rules": [
            _flags(
                {"match": r.match, "unit": r.unit.code, "description": r.description},
                False,
                drop_empty="description",
            )
            for r in rules
        ],
        "required_tags": list(organization.required_tags or []),
    }
    if policies:
        out["policy"] = policies[0] if len(policies) == 1 else policies
    if budgets := export_budgets(organization):
        out["budgets"] = budgets
    wallets = export_wallets(organization)
    if wallets:
        out["wallets"] = wallets
    if enforcement := enforcement_doc(organization):
        out["enforcement"] = enforcement
    if disputes := disputes_doc(organization):
        out["disputes"] = disputes
    if thresholds := reconciliation_doc(organization):
        out["reconciliation"] = thresholds
    return out


def _flags(doc: dict, archived: bool, drop_empty: str = "") -> dict:
    """`archived: true` only when archived; an empty description left out."""
    out = {k: v for k, v in doc.items() if k != "archived" and not (k == drop_empty and not v)}
    if archived:
        out["archived"] = True
    return out


class _Flow(dict):
    """A mapping the YAML dumper writes on one line ({code: SUP, ...})."""


class _FlowList(list):
    """A list the YAML dumper writes on one line ([team, service])."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


_Dumper.add_representer(
    _Flow, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)
)
_Dumper.add_representer(
    _FlowList, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)
)


def dump_config(data: dict, fmt: str = "yaml") -> str:
    """The document as text: YAML with one line per entry, or indented JSON."""
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt != "yaml":
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    parts = []
    for key, value in data.items():
        if key == "policy":
            value = _flow_inside(value)
        elif isinstance(value, dict):
            value = _Flow(value)
        elif isinstance(value, list):
            if value and all(isinstance(v, str) for v in value):
                value = _FlowList(value)
            else:
                value = [_Flow(v) if isinstance(v, dict) else v for v in value]
        parts.append(
            yaml.dump({key: value}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=4096)
        )
    return "\n".join(parts)


def _flow_inside(policy: dict | list) -> dict | list:
    """A policy in block style, with each tier, pool, rate or discount on one line."""
    if isinstance(policy, list):
        return [_flow_inside(p) for p in policy]
    out = {}
    for key, value in policy.items():
        if isinstance(value, list):
            value = [_Flow(v) if isinstance(v, dict) else v for v in value]
        elif isinstance(value, dict):
            value = _Flow(value)
        out[key] = value
    return out
