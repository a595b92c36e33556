"""The configuration file's format: its sections and keys with their defaults, reading one
entry with errors under its path, and each row as the document the file would hold for it."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from chargeback.units.models import (
    MATCH_FIELDS,
    BillingMode,
    BusinessUnit,
    GatewayKey,
    OwnershipRule,
    ProviderAccount,
    Service,
    ServiceKind,
    UnitKind,
)

SECTIONS = (
    "units",
    "services",
    "gateway_keys",
    "provider_accounts",
    "ownership_rules",
    "required_tags",
    "policy",
    "wallets",
    "budgets",
    "enforcement",
    "disputes",
    "reconciliation",
)
TAGS = ("team", "service", "cost_center", "environment", "workflow")
REQUIRED, FLAG, MISSING = object(), object(), object()
# key in the file -> (model field whose validators and choices apply, default or REQUIRED/FLAG)
UNIT_KEYS = {
    "code": ("code", REQUIRED),
    "name": ("name", REQUIRED),
    "parent": (None, None),
    "owner": ("owner_email", REQUIRED),
    "billing_mode": ("billing_mode", BillingMode.SHOWBACK.value),
    "central": (None, FLAG),
    "kind": ("kind", UnitKind.TEAM.value),
    "archived": (None, FLAG),
}
SERVICE_KEYS = {
    "name": ("name", REQUIRED),
    "unit": (None, REQUIRED),
    "kind": ("kind", ServiceKind.SERVICE.value),
    "description": ("description", ""),
    "archived": (None, FLAG),
}
KEY_KEYS = {
    "key_id": ("key_id", REQUIRED),
    "unit": (None, REQUIRED),
    "service": (None, None),
    "environment": ("environment", "production"),
    "owner": ("owner_email", REQUIRED),
    "archived": (None, FLAG),
}
ACCOUNT_KEYS = {
    "provider": ("provider", REQUIRED),
    "account": ("account", REQUIRED),
    "unit": (None, REQUIRED),
}
RULE_KEYS = {"match": None, "unit": (None, REQUIRED), "description": ("description", "")}


class Entry:
    """One entry of a section; each problem goes to `errors` under its path."""

    def __init__(
        self, path: str, value: Any, keys: dict, model: type[models.Model], errors: list[str]
    ) -> None:
        self.path, self.errors, self.model = path, errors, model
        self.ok = self.is_mapping = isinstance(value, dict)
        self.data = value if self.is_mapping else {}
        if not self.ok:
            first, second = list(keys)[:2]
            errors.append(
                f"{path}: must be a mapping such as {{{first}: ..., {second}: ...}}, not {kind_of(value)}"
            )
        for key in self.data:
            if key not in keys:
                self.fail(key, f"unknown key (allowed: {', '.join(keys)})")
        self.doc: dict = {}
        for key, spec in keys.items():
            if spec is None:
                continue
            name, default = spec
            if not self.is_mapping:
                self.doc[key] = False if default is FLAG else None
            elif default is FLAG:
                self.doc[key] = self.flag(key)
            else:
                self.doc[key] = self.text(key, name, default)

    def fail(self, key: str, message: str) -> None:
        self.ok = False
        self.errors.append(f"{self.path}.{key}: {message}")

    def text(self, key: str, name: str | None, default: Any) -> str | None:
        value = self.data.get(key, MISSING)
        if isinstance(value, str):
            value = value.strip()
        # Left out or null: the default. Blank: blank (`environment: ""` is any environment),
        # except for required keys and references (a blank parent is no parent).
        if value is MISSING or value is None or (value == "" and default in (REQUIRED, None)):
            if default is REQUIRED:
                self.fail(key, "required")
                return None
            return default
        if not isinstance(value, str):
            number = isinstance(value, int | float) and not isinstance(value, bool)
            self.fail(key, f"must be text, not {kind_of(value)}" + ("; quote it" if number else ""))
            return None
        if "\x00" in value:
            self.fail(key, "must not contain a NUL character")
            return None
        model_field = self.model._meta.get_field(name) if name else None
        choices = [c[0] for c in model_field.choices or ()] if model_field else []
        if choices and value not in choices:
            self.fail(key, f"{quoted(value)} is not one of {', '.join(choices)}")
            return None
        for validator in model_field.validators if model_field else ():
            try:
                validator(value)
            except ValidationError as exc:
                self.fail(key, f"{quoted(value[:80])}: {' '.join(exc.messages)}")
                return None
        return value

    def flag(self, key: str) -> bool:
        value = self.data.get(key)
        if value is not None and not isinstance(value, bool):
            self.fail(key, f"must be true or false, not {kind_of(value)}")
        return value is True


def read_match(entry: Entry) -> dict[str, str]:
    if not entry.is_mapping:
        return {}
    value = entry.data.get("match")
    example = "such as {service: ticket-summarizer}"
    if value is None:
        entry.fail("match", f"required, a mapping {example}")
        return {}
    if not isinstance(value, dict):
        entry.fail("match", f"must be a mapping {example}, not {kind_of(value)}")
        return {}
    out: dict[str, str] = {}
    for name, text in value.items():
        if name not in MATCH_FIELDS:
            entry.fail(f"match.{name}", f"unknown field (allowed: {', '.join(MATCH_FIELDS)})")
        elif not isinstance(text, str) or not text.strip():
            entry.fail(f"match.{name}", f"must be non-empty text, not {kind_of(text)}")
        elif len(text.strip()) > 200 or "\x00" in text:
            entry.fail(f"match.{name}", "must be at most 200 characters, without NUL")
        else:
            out[name] = text.strip()
    if not value:
        entry.fail("match", f"needs at least one of {', '.join(MATCH_FIELDS)}")
    return {f: out[f] for f in MATCH_FIELDS if f in out}


# Documents of existing rows, shared with the export ----------------------------------------


def unit_doc(unit: BusinessUnit, parent: str | None) -> dict:
    return {
        "code": unit.code,
        "name": unit.name,
        "parent": parent,
        "owner": unit.owner_email,
        "billing_mode": unit.billing_mode,
        "kind": unit.kind,
        "archived": unit.archived,
    }


def service_doc(service: Service, unit: str | None) -> dict:
    return {
        "name": service.name,
        "unit": unit,
        "kind": service.kind,
        "description": service.description,
        "archived": service.archived,
    }


def key_doc(key: GatewayKey, unit: str | None) -> dict:
    return {
        "key_id": key.key_id,
        "unit": unit,
        "service": key.service.name if key.service_id else None,
        "environment": key.environment,
        "owner": key.owner_email,
        "archived": key.archived,
    }


def account_doc(account: ProviderAccount, unit: str | None) -> dict:
    return {"provider": account.provider, "account": account.account, "unit": unit}


def rule_doc(rule: OwnershipRule, unit: str | None) -> dict:
    return {
        "position": rule.position,
        "match": rule.match,
        "unit": unit,
        "description": rule.description,
        "archived": rule.archived,
    }


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"a number ({value})"
    names = {str: "text", list: "a list", dict: "a mapping"}
    return names.get(type(value), type(value).__name__)


def quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    text = str(value)
    plain = text and all(c.isalnum() or c in "-_.@/+" for c in text)
    return text if plain else json.dumps(text, ensure_ascii=False)
