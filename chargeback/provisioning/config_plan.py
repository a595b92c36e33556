"""Planning a configuration file (the format is described in `chargeback.provisioning.config`).

Every entry is validated and each problem is collected under its path
(`units[3].parent: unknown code "OPS"`); then each row to create, update or archive becomes a
`Change`. Reads the organization; writes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from chargeback.provisioning.config_budgets import plan_budgets
from chargeback.provisioning.config_format import (
    ACCOUNT_KEYS,
    KEY_KEYS,
    MISSING,
    RULE_KEYS,
    SECTIONS,
    SERVICE_KEYS,
    TAGS,
    UNIT_KEYS,
    Entry,
    account_doc,
    key_doc,
    kind_of,
    quoted,
    read_match,
    rule_doc,
    service_doc,
    show,
    unit_doc,
)
from chargeback.provisioning.config_policy import plan_policy
from chargeback.provisioning.config_wallets import plan_wallets
from chargeback.tenancy.models import Organization
from chargeback.units.models import (
    BusinessUnit,
    GatewayKey,
    OwnershipRule,
    ProviderAccount,
    Service,
)
from chargeback.units.tree import depth_first


@dataclass
class Change:
    """One row to create, update or archive, shown to people as one line."""

    section: str
    action: str  # create | update | archive
    key: str
    fields: list[tuple[str, Any, Any]]
    path: str = ""
    note: str = ""
    target: int | None = None  # the changed row's id; None to create
    desired: dict = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        return f"{self.section}: {self.summary}"

    @property
    def summary(self) -> str:
        """The line without its section."""
        pairs = ", ".join(f"{name} {show(old)} -> {show(new)}" for name, old, new in self.fields)
        if not self.key:
            text = "; ".join(f"{show(o)} -> {show(n)}" for _, o, n in self.fields)
        elif self.action == "create":
            detail = ", ".join(f"{name} {show(new)}" for name, _old, new in self.fields)
            text = f"create {self.key}" + (f" ({detail})" if detail else "")
        elif self.action == "archive":
            text = f"archive {self.key}"
        else:
            text = f"update {self.key}: {pairs}"
        return text + (f" ({self.note})" if self.note else "")


@dataclass
class Plan:
    """What a file would change. With errors nothing is applied, and `changes` stays empty."""

    changes: list[Change] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return self.notes + [str(c) for c in self.changes]

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for c in self.changes:
            out.setdefault(c.section, {}).setdefault(c.action, 0)
            out[c.section][c.action] += 1
        return out


def plan_config(organization: Organization, data: Any) -> Plan:
    """Validate the whole document and list what applying it would change. Writes nothing."""
    plan = Plan()
    if not isinstance(data, dict):
        plan.errors.append(f"the file must be a mapping of sections, not {kind_of(data)}")
        return plan
    for key in data:
        if key not in SECTIONS:
            plan.errors.append(f"{key}: unknown section (allowed: {', '.join(SECTIONS)})")
    planner = _Planner(organization, plan)
    for name, step in (
        ("units", planner.units),
        ("services", planner.services),
        ("gateway_keys", planner.keys),
        ("provider_accounts", planner.accounts),
        ("ownership_rules", planner.rules),
        ("required_tags", planner.tags),
    ):
        value = data.get(name, MISSING)
        if value is MISSING:
            continue
        if value is not None and not isinstance(value, list):
            plan.errors.append(f"{name}: must be a list, not {kind_of(value)}")
            continue
        step(value or [])
    units = {code: archived for code, (_parent, archived) in planner.final.items()}
    shared = {"units": units, "errors": plan.errors}
    if data.get("policy") is not None:
        changes = plan_policy(
            organization, data["policy"], services=planner.service_names, **shared
        )
        plan.changes.extend(Change(**c) for c in changes)
    for name, section in (("wallets", plan_wallets), ("budgets", plan_budgets)):
        if data.get(name) is not None:
            plan.changes += [Change(**c) for c in section(organization, data[name], **shared)]
    if plan.errors:
        plan.changes = []
        plan.errors.sort(key=_error_order)  # stable: by section, then entry, as found
    return plan


def _error_order(error: str) -> tuple[int, int]:
    match = re.match(r"(\w+)(?:\[(\d+)\])?", error)
    section = match.group(1) if match else ""
    index = int(match.group(2)) if match and match.group(2) else -1
    return (SECTIONS.index(section) if section in SECTIONS else -1, index)


@dataclass
class _Row:
    entry: Entry
    doc: dict
    target: models.Model | None = None
    central: bool = False


class _Planner:
    """The organization's rows, and the state the file leads to, section by section."""

    def __init__(self, organization: Organization, plan: Plan) -> None:
        self.org, self.plan, self.errors = organization, plan, plan.errors
        units = BusinessUnit.objects.filter(organization=organization).select_related("parent")
        self.units_by_code = {u.code: u for u in units}
        self.central = next((u for u in units if u.is_central), None)
        self.renamed: dict[str, str] = {}  # old code -> new code (the central unit)
        # code -> (parent code, archived) once the file is applied
        self.final = {u.code: (u.parent.code if u.parent_id else None, u.archived) for u in units}
        self.service_names = set(
            Service.objects.filter(organization=organization).values_list("name", flat=True)
        )

    def code(self, unit: BusinessUnit | None) -> str | None:
        return None if unit is None else self.renamed.get(unit.code, unit.code)

    def read(self, section: str, entries: list, keys: dict, model: type) -> list[_Row]:
        rows = []
        for index, value in enumerate(entries):
            entry = Entry(f"{section}[{index}]", value, keys, model, self.errors)
            rows.append(_Row(entry, entry.doc))
        return rows

    def unit_ref(self, entry: Entry, key: str, code: str | None, *, active: bool) -> None:
        """An unknown unit is always an error; an archived one only for an active row saved."""
        if code is not None and code not in self.final:
            entry.fail(
                key, f'unknown {"code" if key == "parent" else "unit"} "{code}"' + self._hint(code)
            )
        elif code is not None and active and self.final[code][1]:
            entry.fail(key, f'unit "{code}" is archived')

    def _hint(self, code: str) -> str:
        if code in self.renamed:
            return f" (this file renames it to {self.renamed[code]})"
        near = [c for c in self.final if c.lower() == code.lower()]
        return f' (did you mean "{near[0]}"?)' if near else ""

    def unique(
        self, rows: list[_Row], ident: Callable, field_name: str, existing: dict, fold: bool
    ) -> None:
        """Duplicates in the file; for case-blind names, one differing from the org's only in case."""
        norm = (lambda k: k.lower()) if fold else (lambda k: k)
        known = {norm(k): k for k in existing}
        seen: set = set()
        for row in rows:
            key = ident(row.doc)
            if key is None:
                continue
            shown = "/".join(key) if isinstance(key, tuple) else key
            if norm(key) in seen:
                row.entry.fail(field_name, f'duplicate {field_name} "{shown}" in the file')
            seen.add(norm(key))
            if key in existing:
                row.target = existing[key]
            elif norm(key) in known:
                row.entry.fail(
                    field_name,
                    f'"{shown}" differs only in case from the existing "{known[norm(key)]}"',
                )

    def change(
        self, section: str, row: _Row, current: dict | None, label: str, hide: tuple
    ) -> Change | None:
        """The row's create or update, or None when the organization already matches it."""
        if current is None:
            shown = [
                (k, None, v) for k, v in row.doc.items() if k not in hide and v not in (False, "")
            ]
            return Change(section, "create", label, shown, row.entry.path, desired=row.doc)
        fields = [(k, current[k], v) for k, v in row.doc.items() if current[k] != v]
        if not fields:
            return None
        return Change(section, "update", label, fields, row.entry.path, "", row.target.pk, row.doc)

    # Units -------------------------------------------------------------------------------

    def units(self, entries: list) -> None:
        rows = self.read("units", entries, UNIT_KEYS, BusinessUnit)
        for row in rows:
            row.central = row.doc.pop("central")
        self.unique(rows, lambda d: d["code"], "code", self.units_by_code, fold=True)
        central = self._central(rows)
        for code, unit in self.units_by_code.items():  # children of a renamed central unit
            if code in self.final and unit.parent_id and unit.parent.code in self.renamed:
                self.final[code] = (self.code(unit.parent), unit.archived)
        for row in rows:
            if row.doc["code"] is not None:
                self.final[row.doc["code"]] = (row.doc["parent"], row.doc["archived"])
        for row in rows:
            self.unit_ref(row.entry, "parent", row.doc["parent"], active=False)
        parents = {code: parent for code, (parent, _archived) in self.final.items()}
        cycles = _cycles(parents)
        for cycle in cycles:
            self.errors.append("units: a cycle in parents: " + " -> ".join([*cycle, cycle[0]]))
        changes = {}
        for row in rows:
            change = self._unit_change(row, central) if row.entry.ok else None
            if change:
                changes[row.doc["code"]] = change
        if not cycles:  # parents first
            for code, _depth in depth_first(parents, {c: c.lower() for c in parents}):
                if code in changes:
                    self.plan.changes.append(changes[code])

    def _central(self, rows: list[_Row]) -> _Row | None:
        """The row marked central; it renames the current central unit if neither code is known."""
        marked = [r for r in rows if r.central]
        for extra in marked[1:]:
            extra.entry.fail("central", f"only one unit can be central ({marked[0].entry.path} is)")
        if not marked or marked[0].doc["code"] is None:
            return None
        row, current = marked[0], self.central
        in_file = {r.doc["code"].lower() for r in rows if r.doc["code"]}
        known = {c.lower() for c in self.units_by_code}
        if (
            current is not None
            and row.doc["code"].lower() not in known
            and current.code.lower() not in in_file
        ):
            row.target = current
            self.renamed[current.code] = row.doc["code"]
            del self.final[current.code]
        return row

    def _unit_change(self, row: _Row, central: _Row | None) -> Change | None:
        doc, unit, entry = row.doc, row.target, row.entry
        current = None if unit is None else unit_doc(unit, self.code(unit.parent))
        label = doc["code"] if unit is None else unit.code
        change = self.change("units", row, current, label, ("code",))
        takes_flag = row is central and (unit is None or not unit.is_central)
        if takes_flag:
            change = change or Change("units", "update", unit.code, [], entry.path, "", unit.pk)
            change.fields.append(("central", None if unit is None else False, True))
            if self.central is not None and self.central is not unit:
                change.note = f"takes the central flag from {self.central.code}"
        if change is None:
            return None
        change.desired = {**doc, "central": row is central}
        if doc["archived"]:
            if row is central or (unit is not None and unit is self.central and central is None):
                entry.fail("archived", "the central unit cannot be archived")
            if unit is None or not unit.archived:
                children = [
                    c
                    for c, (p, archived) in self.final.items()
                    if p == doc["code"] and not archived
                ]
                if children:
                    entry.fail(
                        "archived", "its child units are active: " + ", ".join(sorted(children))
                    )
        else:
            self.unit_ref(entry, "parent", doc["parent"], active=True)
        return change

    # Services, gateway keys, provider accounts --------------------------------------------

    def services(self, entries: list) -> None:
        rows = self.read("services", entries, SERVICE_KEYS, Service)
        self.service_names |= {r.doc["name"] for r in rows if r.doc["name"]}
        self.plain(
            "services",
            rows,
            Service,
            ("name",),
            lambda s: service_doc(s, self.code(s.unit)),
            fold=True,
        )

    def keys(self, entries: list) -> None:
        rows = self.read("gateway_keys", entries, KEY_KEYS, GatewayKey)
        for row in rows:
            if row.entry.data.get("environment", MISSING) is None:
                row.doc["environment"] = ""  # null: any environment
            service = row.doc["service"]
            if service is not None and service not in self.service_names:
                row.entry.fail("service", f'unknown service "{service}"')
        self.plain(
            "gateway_keys", rows, GatewayKey, ("key_id",), lambda k: key_doc(k, self.code(k.unit))
        )

    def accounts(self, entries: list) -> None:
        rows = self.read("provider_accounts", entries, ACCOUNT_KEYS, ProviderAccount)
        self.plain(
            "provider_accounts",
            rows,
            ProviderAccount,
            ("provider", "account"),
            lambda a: account_doc(a, self.code(a.unit)),
        )

    def plain(
        self,
        section: str,
        rows: list[_Row],
        model: type,
        ident_keys: tuple,
        current_doc: Callable,
        fold: bool = False,
    ) -> None:
        """Rows matched by their identifying keys; only the unit is a reference."""

        def ident(doc: dict) -> Any:
            values = tuple(doc[k] for k in ident_keys)
            return None if None in values else (values[0] if len(values) == 1 else values)

        related = [
            f.name
            for f in model._meta.concrete_fields
            if f.is_relation and f.name != "organization"
        ]
        existing = {
            ident(current_doc(o)): o
            for o in model.objects.filter(organization=self.org).select_related(*related)
        }
        self.unique(rows, ident, ident_keys[-1], existing, fold)
        for row in rows:
            self.unit_ref(row.entry, "unit", row.doc["unit"], active=False)
            if not row.entry.ok:
                continue
            current = None if row.target is None else current_doc(row.target)
            change = self.change(
                section, row, current, "/".join(row.doc[k] for k in ident_keys), ident_keys
            )
            if change is not None:
                self.unit_ref(
                    row.entry, "unit", row.doc["unit"], active=not row.doc.get("archived")
                )
                self.plan.changes.append(change)

    # Ownership rules and required tags ----------------------------------------------------

    def rules(self, entries: list) -> None:
        rows = self.read("ownership_rules", entries, RULE_KEYS, OwnershipRule)
        for row in rows:
            row.doc = {"match": read_match(row.entry), **row.doc}
        existing = list(
            OwnershipRule.objects.filter(organization=self.org)
            .select_related("unit")
            .order_by("archived", "position", "id")
        )
        pool: dict[tuple, list[OwnershipRule]] = {}  # active rules first
        for rule in existing:
            pool.setdefault(_rule_key(rule.match, self.code(rule.unit)), []).append(rule)
        seen: dict[tuple, str] = {}
        for row in rows:
            self.unit_ref(row.entry, "unit", row.doc["unit"], active=False)
            key = _rule_key(row.doc["match"], row.doc["unit"])
            if row.entry.ok and key in seen:
                row.entry.fail("match", f"same match and unit as {seen[key]}")
            elif row.entry.ok:
                seen[key] = row.entry.path
                row.target = pool[key].pop(0) if pool.get(key) else None
        active = sorted((r for r in existing if not r.archived), key=lambda r: (r.position, r.pk))
        same_order = [_rule_key(r.match, self.code(r.unit)) for r in active] == list(seen)
        kept = set()
        for position, row in enumerate((r for r in rows if r.entry.ok), start=1):
            rule = row.target
            if rule is not None:
                kept.add(rule.pk)
                position = rule.position if same_order else position
            row.doc = {"position": position, **row.doc, "archived": False}
            current = None if rule is None else rule_doc(rule, self.code(rule.unit))
            label = f"#{rule.position if rule else position} " + _rule_label(
                row.doc["match"], row.doc["unit"]
            )
            change = self.change(
                "ownership_rules", row, current, label, ("position", "match", "unit")
            )
            if change is not None:
                self.unit_ref(row.entry, "unit", row.doc["unit"], active=True)
                self.plan.changes.append(change)
        for rule in active:
            if rule.pk not in kept:
                label = f"#{rule.position} " + _rule_label(rule.match, self.code(rule.unit))
                self.plan.changes.append(
                    Change(
                        "ownership_rules",
                        "archive",
                        label,
                        [("archived", False, True)],
                        "ownership_rules",
                        "not in the file",
                        rule.pk,
                        {"archived": True},
                    )
                )

    def tags(self, entries: list) -> None:
        wanted: list[str] = []
        for index, tag in enumerate(entries):
            if not isinstance(tag, str):
                self.errors.append(
                    f"required_tags[{index}]: must be a tag name, not {kind_of(tag)}"
                )
            elif tag not in TAGS:
                shown = quoted(tag)
                self.errors.append(
                    f"required_tags[{index}]: unknown tag {shown} (allowed: {', '.join(TAGS)})"
                )
            elif tag in wanted:
                self.errors.append(f'required_tags[{index}]: duplicate tag "{tag}"')
            else:
                wanted.append(tag)
        current = list(self.org.required_tags or [])
        if wanted != current:
            self.plan.changes.append(
                Change(
                    "required_tags",
                    "update",
                    "",
                    [("required_tags", current, wanted)],
                    "required_tags",
                    desired={"required_tags": wanted},
                )
            )


def _cycles(parents: dict[str, str | None]) -> list[list[str]]:
    done: set[str] = set()
    cycles = []
    for start in parents:
        path: list[str] = []
        node = start
        while node is not None and node in parents and node not in done:
            if node in path:
                cycles.append(path[path.index(node) :])
                break
            path.append(node)
            node = parents[node]
        done.update(path)
    return cycles


def _rule_key(match: dict[str, str], unit: str | None) -> tuple:
    return (tuple(sorted(match.items())), unit)


def _rule_label(match: dict[str, str], unit: str | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in match.items()) + f" -> {unit}"
