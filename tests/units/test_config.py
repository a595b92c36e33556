"""The organisation structure as a file: parsing, planning (every error with its path), applying
in one transaction and idempotently, export as a fixed point, the commands and the page."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django_scopes import scopes_disabled

from chargeback.audit.models import AuditEvent
from chargeback.provisioning.config import (
    ConfigError,
    apply_config,
    decode_config,
    dump_config,
    export_config,
    parse_config,
    plan_config,
)
from chargeback.provisioning.orgs import create_organization
from chargeback.tenancy.scoping import within
from chargeback.units.models import (
    BusinessUnit,
    GatewayKey,
    OwnershipRule,
    ProviderAccount,
    Service,
)
from tests import factories as f

SAMPLE = """
units:
  - {code: SUP, name: Support, parent: PLAT, owner: ana@example.com, billing_mode: chargeback}
  - {code: PLAT, name: Platform, parent: null, owner: raj@example.com, central: true, kind: division}
services:
  - {name: ticket-summarizer, unit: SUP}
gateway_keys:
  - {key_id: gk-support-prod, unit: SUP, service: ticket-summarizer, environment: production, owner: ana@example.com}
provider_accounts:
  - {provider: openai, account: proj_support, unit: SUP}
ownership_rules:
  - {match: {service: ticket-summarizer}, unit: SUP}
  - {match: {team: support, environment: production}, unit: SUP, description: "Support: prod"}
required_tags: [team, service, cost_center, environment, workflow]
policy:
  effective_from: "2026-10"
  charge_basis: token
"""
SAMPLE_LINES = [
    "units: update CENTRAL: code CENTRAL -> PLAT, name "
    '"Alpha Central" -> Platform, owner owner@example.com -> raj@example.com, kind team -> division',
    "units: create SUP (name Support, parent PLAT, owner ana@example.com, "
    "billing_mode chargeback, kind team)",
    "services: create ticket-summarizer (unit SUP, kind service)",
    "gateway_keys: create gk-support-prod (unit SUP, service ticket-summarizer, "
    "environment production, owner ana@example.com)",
    "provider_accounts: create openai/proj_support (unit SUP)",
    "ownership_rules: create #1 service=ticket-summarizer -> SUP",
    'ownership_rules: create #2 team=support, environment=production -> SUP (description "Support: prod")',
    "required_tags: [team, service, cost_center, environment] -> "
    "[team, service, cost_center, environment, workflow]",
    "policy: create 2026-10",
]
MODELS = (BusinessUnit, Service, GatewayKey, ProviderAccount, OwnershipRule, AuditEvent)


def counts() -> dict[str, int]:
    """Every organisation's rows (a failed import writes nothing anywhere), hence unscoped."""
    with scopes_disabled():
        return {m.__name__: m.objects.count() for m in MODELS}


def errors_of(org, text: str) -> list[str]:
    return plan_config(org, parse_config(text)).errors


def actions(since: int) -> list[str]:
    return [e.action for e in AuditEvent.objects.filter(id__gt=since).order_by("id")]


def last_event_id() -> int:
    last = AuditEvent.objects.order_by("-id").first()
    return last.id if last else 0


@pytest.fixture
def rich(org_a, unit_tree):
    """Alpha with every kind of row, archived ones, a blank environment and a gap in positions."""
    t = unit_tree
    f.BusinessUnitFactory(
        organization=org_a, code="OLD", name="Old team", parent=t["support"], archived=True
    )
    svc = f.ServiceFactory(
        organization=org_a,
        name="ticket-summarizer",
        unit=t["support"],
        description="Summarises tickets",
    )
    f.ServiceFactory(
        organization=org_a, name="retired-bot", unit=t["de"], kind="workflow", archived=True
    )
    f.GatewayKeyFactory(
        organization=org_a, key_id="gk-support-prod", unit=t["support"], service=svc
    )
    f.GatewayKeyFactory(organization=org_a, key_id="gk-any", unit=t["de"], environment="")
    f.ProviderAccountFactory(
        organization=org_a, provider="openai", account="proj_support", unit=t["support"]
    )
    f.OwnershipRuleFactory(
        organization=org_a, position=1, match_service="ticket-summarizer", unit=t["support"]
    )
    f.OwnershipRuleFactory(
        organization=org_a, position=2, match_service="old", unit=t["de"], archived=True
    )
    f.OwnershipRuleFactory(
        organization=org_a,
        position=4,
        match_service="",
        match_team="sales",
        match_environment="production",
        unit=t["eu"],
        description="Sales: prod",
    )
    org_a.required_tags = ["team", "service"]
    org_a.save()
    return org_a


# Parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "units:\n  - {code: A\n",
            "line 3, column 1: expected ',' or '}', but got '<stream end>' "
            "(while parsing a flow mapping)",
        ),
        (
            "units:\n  - {code: A}\n  - {code: B, code: C}\n",
            'line 3, column 15: duplicate key "code"',
        ),
        (
            "units:\n\t- {code: A}\n",
            "line 2, column 1: found character '\\t' that cannot start any token "
            "(indent with spaces, not tabs) (while scanning for the next token)",
        ),
        (
            "a: 1\nwhen: 2026-13-45\n",
            "line 2, column 7: cannot read this value (month must be in 1..12); quote it",
        ),
        (
            '{\n  "units": [\n    {"code": "A"}\n    {"code": "B"}\n  ]\n}',
            "line 4, column 5: Expecting ',' delimiter",
        ),
        ('{"units": [], "units": []}', 'duplicate key "units" in a JSON object'),
        ("a: 1\nb\x00: 1\n", "line 2: the character #x0000 is not allowed in the file"),
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        ("- units\n", "the file must be a mapping of sections, not a list"),
        (
            "a: !!python/name:os.system\n",
            "line 1, column 4: could not determine a constructor "
            "for the tag 'tag:yaml.org,2002:python/name:os.system'",
        ),
        ("[" * 5000 + "]" * 5000, "the file is nested too deeply"),
    ],
)
def test_parse_errors_name_the_line(text, error):
    with pytest.raises(ConfigError) as exc:
        parse_config(text)
    assert exc.value.errors == [error]


def test_json_is_accepted_even_indented_with_tabs():
    assert parse_config('{\n\t"units": [\n\t\t{"code": "A"}\n\t]\n}') == {"units": [{"code": "A"}]}
    assert parse_config('{"required_tags": ["team"]}') == {"required_tags": ["team"]}


def test_decode_refuses_non_utf8_and_names_the_line():
    assert decode_config("\ufeffunits: []\n".encode()) == "units: []\n"
    with pytest.raises(ConfigError) as exc:
        decode_config(b"units:\n  - {code: A}\n  - {name: \xe9}\n")
    assert exc.value.errors == ["line 3: the file is not UTF-8 text (byte 0xe9); save it as UTF-8"]
    assert str(exc.value) == "1 error in the configuration"


# Planning: every error, with its path ------------------------------------------------------


OWNER = "owner: a@example.com"


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        (
            f"units: [{{code: A, name: A, {OWNER}, parent: OPS}}]",
            ['units[0].parent: unknown code "OPS"'],
        ),
        (
            f"units: [{{code: A, name: A, {OWNER}, parent: sales}}]",
            ['units[0].parent: unknown code "sales" (did you mean "SALES"?)'],
        ),
        (
            f"gateway_keys: [{{key_id: gk-1, unit: XX, {OWNER}}}]",
            ['gateway_keys[0].unit: unknown unit "XX"'],
        ),
        (
            f"units: [{{code: SUP, name: S, {OWNER}}}, {{code: B, name: B, {OWNER}}}, "
            f"{{code: SUP, name: S, {OWNER}}}]",
            ['units[2].code: duplicate code "SUP" in the file'],
        ),
        (
            f"units: [{{code: A, name: A, {OWNER}, parent: B}}, "
            f"{{code: B, name: B, {OWNER}, parent: A}}]",
            ["units: a cycle in parents: A -> B -> A"],
        ),
        (
            f"units: [{{code: SALES, name: Sales, {OWNER}, kind: division, parent: SALES-DE}}]",
            ["units: a cycle in parents: SALES -> SALES-DE -> SALES-EU -> SALES"],
        ),
        ("units: [{code: A, name: A}]", ["units[1].owner: required".replace("1", "0")]),
        (
            f"units: [{{code: A, name: A, {OWNER}, colour: red}}]",
            [
                "units[0].colour: unknown key (allowed: code, name, parent, owner, "
                "billing_mode, central, kind, archived)"
            ],
        ),
        (
            "units: [{code: A, name: A, owner: bob, billing_mode: monthly, central: 'yes'}]",
            [
                'units[0].owner: "bob": Enter a valid email address.',
                'units[0].billing_mode: "monthly" is not one of showback, chargeback',
                "units[0].central: must be true or false, not text",
            ],
        ),
        (
            f"units: [{{code: 410, name: A, {OWNER}}}]",
            ["units[0].code: must be text, not a number (410); quote it"],
        ),
        (
            f"units: [{{code: 'A B', name: '', {OWNER}}}]",
            [
                "units[0].code: \"A B\": Use 1-40 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit.",
                "units[0].name: required",
            ],
        ),
        (
            f"units: [{{code: sales, name: A, {OWNER}}}]",
            ['units[0].code: "sales" differs only in case from the existing "SALES"'],
        ),
        (
            f"units: [{{code: A, name: A, {OWNER}, central: true}}, "
            f"{{code: B, name: B, {OWNER}, central: true}}]",
            ["units[1].central: only one unit can be central (units[0] is)"],
        ),
        (
            f"units: [{{code: SALES, name: Sales, {OWNER}, kind: division, archived: true}}]",
            ["units[0].archived: its child units are active: SALES-EU"],
        ),
        (
            f"units: [{{code: CENTRAL, name: C, {OWNER}, archived: true}}]",
            ["units[0].archived: the central unit cannot be archived"],
        ),
        (
            f"units: [{{code: NEW, name: New, {OWNER}, parent: GONE}}, "
            f"{{code: GONE, name: Gone, {OWNER}, archived: true}}]",
            [
                'units[0].parent: unit "GONE" is archived',
                "units[1].archived: its child units are active: NEW",
            ],
        ),
        (
            f"units: [{{code: PLAT, name: P, {OWNER}, central: true}}, "
            f"{{code: X, name: X, {OWNER}, parent: CENTRAL}}]",
            ['units[1].parent: unknown code "CENTRAL" (this file renames it to PLAT)'],
        ),
        (
            "colours: []\nunits: {code: A}\n",
            [
                "colours: unknown section (allowed: units, services, gateway_keys, "
                "provider_accounts, ownership_rules, required_tags, policy, wallets, budgets, enforcement, disputes, "
                "reconciliation)",
                "units: must be a list, not a mapping",
            ],
        ),
        ("units: [SUP]", ["units[0]: must be a mapping such as {code: ..., name: ...}, not text"]),
        (
            "services: [{name: s1, unit: NOPE}, {name: 'bad name', unit: SALES}]\n"
            f"gateway_keys: [{{key_id: gk-1, unit: SALES, service: nope, {OWNER}}}]",
            [
                'services[0].unit: unknown unit "NOPE"',
                "services[1].name: \"bad name\": Use 1-40 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit.",
                'gateway_keys[0].service: unknown service "nope"',
            ],
        ),
        (
            "services: [{name: s1, unit: SALES, kind: agent}]",
            ['services[0].kind: "agent" is not one of service, workflow'],
        ),
        (
            "provider_accounts: [{provider: openai, account: p1, unit: SALES}, "
            "{provider: openai, account: p1, unit: SALES}, {provider: openai}]",
            [
                'provider_accounts[1].account: duplicate account "openai/p1" in the file',
                "provider_accounts[2].account: required",
                "provider_accounts[2].unit: required",
            ],
        ),
        (
            "ownership_rules: [{match: {tem: x}, unit: SALES}, {match: {}, unit: SALES}, "
            "{match: {team: x}, unit: SALES}, {match: {team: x}, unit: SALES}, {unit: SALES}, "
            "{match: {team: 3}, unit: SALES}, {match: {team: y}, unit: NOPE}]",
            [
                "ownership_rules[0].match.tem: unknown field (allowed: team, service, "
                "cost_center, environment, gateway_key)",
                "ownership_rules[1].match: needs at least one of team, service, cost_center, "
                "environment, gateway_key",
                "ownership_rules[3].match: same match and unit as ownership_rules[2]",
                "ownership_rules[4].match: required, a mapping such as {service: ticket-summarizer}",
                "ownership_rules[5].match.team: must be non-empty text, not a number (3)",
                'ownership_rules[6].unit: unknown unit "NOPE"',
            ],
        ),
        (
            "required_tags: [team, colour, team, 5]",
            [
                'required_tags[1]: unknown tag "colour" (allowed: team, service, cost_center, '
                "environment, workflow)",
                'required_tags[2]: duplicate tag "team"',
                "required_tags[3]: must be a tag name, not a number (5)",
            ],
        ),
        ("required_tags: team", ["required_tags: must be a list, not text"]),
    ],
)
def test_plan_lists_every_error_with_its_path(org_a, unit_tree, text, errors):
    with within(org_a):
        plan = plan_config(org_a, parse_config(text))
        assert plan.errors == errors
        assert plan.changes == []


def test_archived_unit_in_the_org_cannot_take_new_rows(org_a, unit_tree):
    with within(org_a):
        f.BusinessUnitFactory(organization=org_a, code="GONE", archived=True)
        text = (
            "services: [{name: s1, unit: GONE}, {name: s2, unit: GONE, archived: true}]\n"
            f"gateway_keys: [{{key_id: gk-1, unit: GONE, {OWNER}}}]\n"
            "provider_accounts: [{provider: openai, account: p1, unit: GONE}]\n"
            "ownership_rules: [{match: {team: x}, unit: GONE}]\n"
            f"units: [{{code: NEW, name: New, {OWNER}, parent: GONE}}]"
        )
        assert errors_of(org_a, text) == [
            'units[0].parent: unit "GONE" is archived',
            'services[0].unit: unit "GONE" is archived',
            'gateway_keys[0].unit: unit "GONE" is archived',
            'provider_accounts[0].unit: unit "GONE" is archived',
            'ownership_rules[0].unit: unit "GONE" is archived',
        ]


def test_plan_writes_nothing_and_describes_each_change(org_a, unit_tree):
    with within(org_a):
        before = counts()
        plan = plan_config(org_a, parse_config(SAMPLE))
        assert plan.errors == []
        assert plan.lines == SAMPLE_LINES
        assert plan.counts() == {
            "units": {"update": 1, "create": 1},
            "services": {"create": 1},
            "gateway_keys": {"create": 1},
            "provider_accounts": {"create": 1},
            "ownership_rules": {"create": 2},
            "required_tags": {"update": 1},
            "policy": {"create": 1},
        }
        assert counts() == before


# Applying ----------------------------------------------------------------------------------


def test_a_bad_file_changes_nothing(org_a, unit_tree, admin):
    with within(org_a):
        text = SAMPLE + "gateway_keys_typo: []\n"
        before = counts()
        with pytest.raises(ConfigError) as exc:
            apply_config(org_a, parse_config(text), actor=admin.user)
        assert exc.value.errors == [
            "gateway_keys_typo: unknown section (allowed: units, services, gateway_keys, "
            "provider_accounts, ownership_rules, required_tags, policy, wallets, budgets, enforcement, disputes, "
            "reconciliation)"
        ]
        assert counts() == before
        org_a.refresh_from_db()
        assert org_a.required_tags == ["team", "service", "cost_center", "environment"]


def test_apply_creates_parents_first_and_audits_each_row(org_a, unit_tree, admin):
    with within(org_a):
        since = last_event_id()
        plan = apply_config(org_a, parse_config(SAMPLE), actor=admin.user)
        assert plan.lines == SAMPLE_LINES
        plat = BusinessUnit.objects.get(organization=org_a, code="PLAT")
        sup = BusinessUnit.objects.get(organization=org_a, code="SUP")
        assert (plat.is_central, plat.name, plat.kind, plat.parent_id) == (
            True,
            "Platform",
            "division",
            None,
        )
        assert (sup.parent_id, sup.billing_mode, sup.owner_email) == (
            plat.pk,
            "chargeback",
            "ana@example.com",
        )
        assert BusinessUnit.objects.filter(organization=org_a, code="CENTRAL").exists() is False
        key = GatewayKey.objects.get(organization=org_a, key_id="gk-support-prod")
        assert (key.unit_id, key.service.name, key.environment) == (
            sup.pk,
            "ticket-summarizer",
            "production",
        )
        rules = OwnershipRule.objects.filter(organization=org_a).order_by("position")
        assert [(r.position, r.match, r.unit_id, r.description) for r in rules] == [
            (1, {"service": "ticket-summarizer"}, sup.pk, ""),
            (2, {"team": "support", "environment": "production"}, sup.pk, "Support: prod"),
        ]
        org_a.refresh_from_db()
        assert org_a.required_tags == ["team", "service", "cost_center", "environment", "workflow"]
        assert actions(since) == [
            "businessunit.updated",
            "businessunit.created",
            "service.created",
            "gatewaykey.created",
            "provideraccount.created",
            "ownershiprule.created",
            "ownershiprule.created",
            "organization.updated",
            "allocationpolicy.created",
            "config.imported",
        ]
        imported = AuditEvent.objects.get(action="config.imported")
        assert (imported.actor, imported.object_repr) == (admin.user, "9 changes")
        assert imported.after["changes"] == SAMPLE_LINES
        # rows the file does not mention are left alone
        assert set(BusinessUnit.objects.filter(organization=org_a).values_list("code", flat=True)) == {
            "PLAT", "SUP", "SALES", "SALES-EU", "SALES-DE", "SUPPORT"
        }  # fmt: skip


def test_second_run_changes_nothing_and_writes_no_audit_event(org_a, unit_tree, admin):
    with within(org_a):
        apply_config(org_a, parse_config(SAMPLE), actor=admin.user)
        before = counts()
        updated = dict(BusinessUnit.objects.values_list("code", "updated_at"))
        plan = apply_config(org_a, parse_config(SAMPLE), actor=admin.user)
        assert plan.changes == []
        assert plan.lines == []
        assert counts() == before
        assert dict(BusinessUnit.objects.values_list("code", "updated_at")) == updated


def test_one_field_changed_is_one_update(org_a, unit_tree, admin):
    with within(org_a):
        apply_config(org_a, parse_config(SAMPLE), actor=admin.user)
        since = last_event_id()
        text = SAMPLE.replace("name: Support,", "name: Customer Support,")
        plan = apply_config(org_a, parse_config(text), actor=admin.user)
        assert plan.lines == ['units: update SUP: name Support -> "Customer Support"']
        assert actions(since) == ["businessunit.updated", "config.imported"]
        assert BusinessUnit.objects.get(organization=org_a, code="SUP").name == "Customer Support"


def test_marked_central_unit_takes_the_flag_when_the_old_code_is_in_the_file(org_a, admin):
    with within(org_a):
        text = (
            f"units: [{{code: CENTRAL, name: Alpha Central, {OWNER}, kind: division}}, "
            f"{{code: PLAT, name: Platform, {OWNER}, central: true}}]"
        )
        plan = apply_config(org_a, parse_config(text), actor=admin.user)
        assert plan.lines == [
            "units: update CENTRAL: owner owner@example.com -> a@example.com, kind team -> division",
            "units: create PLAT (name Platform, parent null, owner a@example.com, billing_mode showback, "
            "kind team, central true) (takes the central flag from CENTRAL)",
        ]
        central = BusinessUnit.objects.filter(organization=org_a, is_central=True)
        assert list(central.values_list("code", flat=True)) == ["PLAT"]
        assert plan_config(org_a, parse_config(text)).changes == []


def test_leaving_central_out_does_not_clear_the_flag(org_a, admin):
    with within(org_a):
        text = "units: [{code: CENTRAL, name: Alpha Central, owner: owner@example.com}]"
        assert plan_config(org_a, parse_config(text)).lines == []
        assert BusinessUnit.objects.get(organization=org_a, code="CENTRAL").is_central is True


def test_units_are_created_parents_first_whatever_the_file_order(org_a, admin):
    with within(org_a):
        text = (
            f"units: [{{code: C, name: C, {OWNER}, parent: B}}, {{code: B, name: B, {OWNER}, "
            f"parent: A}}, {{code: A, name: A, {OWNER}}}]"
        )
        plan = apply_config(org_a, parse_config(text), actor=admin.user)
        assert [c.key for c in plan.changes] == ["A", "B", "C"]
        c = BusinessUnit.objects.select_related("parent__parent").get(organization=org_a, code="C")
        assert (c.parent.code, c.parent.parent.code) == ("B", "A")


def test_moving_a_subtree_under_a_new_unit(org_a, unit_tree, admin):
    with within(org_a):
        text = (
            "units:\n"
            f"  - {{code: SALES, name: Sales, {OWNER}, kind: division, parent: COMMERCIAL}}\n"
            f"  - {{code: COMMERCIAL, name: Commercial, {OWNER}, kind: division}}\n"
        )
        apply_config(org_a, parse_config(text), actor=admin.user)
        sales = BusinessUnit.objects.get(organization=org_a, code="SALES")
        assert sales.parent.code == "COMMERCIAL"
        assert (
            BusinessUnit.objects.get(organization=org_a, code="SALES-DE").parent.code == "SALES-EU"
        )


def test_archiving_and_restoring_through_the_file(rich, admin):
    with within(rich):
        text = (
            "units: [{code: OLD, name: Old team, parent: SUPPORT, owner: owner@example.com}]\n"
            "services: [{name: ticket-summarizer, unit: SUPPORT, archived: true}]"
        )
        plan = apply_config(rich, parse_config(text), actor=admin.user)
        assert plan.lines == [
            "units: update OLD: archived true -> false",
            'services: update ticket-summarizer: description "Summarises tickets" -> "", '
            "archived false -> true",
        ]
        assert BusinessUnit.objects.get(organization=rich, code="OLD").archived is False
        assert Service.objects.get(organization=rich, name="ticket-summarizer").archived is True


def test_ownership_rules_are_matched_moved_and_archived_without_churn(rich, admin):
    with within(rich):
        rule_ids = set(OwnershipRule.objects.filter(organization=rich).values_list("id", flat=True))
        text = (
            "ownership_rules:\n"
            "  - {match: {team: sales, environment: production}, unit: SALES-EU, description: 'Sales: prod'}\n"
            "  - {match: {service: old}, unit: SALES-DE}\n"
            "  - {match: {gateway_key: gk-any}, unit: SALES-DE}\n"
        )
        plan = apply_config(rich, parse_config(text), actor=admin.user)
        assert plan.lines == [
            "ownership_rules: update #4 team=sales, environment=production -> SALES-EU: position 4 -> 1",
            "ownership_rules: update #2 service=old -> SALES-DE: archived true -> false",
            "ownership_rules: create #3 gateway_key=gk-any -> SALES-DE",
            "ownership_rules: archive #1 service=ticket-summarizer -> SUPPORT (not in the file)",
        ]
        rules = OwnershipRule.objects.filter(organization=rich)
        active = rules.filter(archived=False).order_by("position")
        assert [(r.position, r.match) for r in active] == [
            (1, {"team": "sales", "environment": "production"}),
            (2, {"service": "old"}),
            (3, {"gateway_key": "gk-any"}),
        ]
        assert rule_ids < set(rules.values_list("id", flat=True))  # kept, plus one new
        assert rules.count() == 4
        assert plan_config(rich, parse_config(text)).changes == []


def test_an_empty_rule_list_archives_every_active_rule(rich, admin):
    with within(rich):
        apply_config(rich, parse_config("ownership_rules: []"), actor=admin.user)
        assert OwnershipRule.objects.filter(organization=rich, archived=False).count() == 0
        assert OwnershipRule.objects.filter(organization=rich).count() == 3


def test_gateway_key_null_environment_means_any(org_a, unit_tree, admin):
    with within(org_a):
        text = (
            f"gateway_keys: [{{key_id: gk-a, unit: SALES, environment: null, {OWNER}}}, "
            f"{{key_id: gk-b, unit: SALES, {OWNER}}}]"
        )
        apply_config(org_a, parse_config(text), actor=admin.user)
        keys = GatewayKey.objects.filter(organization=org_a).order_by("key_id")
        assert [(k.key_id, k.environment) for k in keys] == [("gk-a", ""), ("gk-b", "production")]


# Export, and the fixed point ---------------------------------------------------------------


def test_export_format(rich, org_b):
    with within(rich):
        data = export_config(rich)
        assert data == {
            "units": [
                {"code": "CENTRAL", "name": "Alpha Central", "parent": None, "owner": "owner@example.com",
                 "billing_mode": "showback", "central": True, "kind": "team"},
                {"code": "SALES", "name": "Sales", "parent": None, "owner": "owner@example.com",
                 "billing_mode": "showback", "kind": "division"},
                {"code": "SALES-EU", "name": "Sales Europe", "parent": "SALES", "owner": "owner@example.com",
                 "billing_mode": "showback", "kind": "department"},
                {"code": "SALES-DE", "name": "Sales Germany", "parent": "SALES-EU",
                 "owner": "owner@example.com", "billing_mode": "showback", "kind": "team"},
                {"code": "SUPPORT", "name": "Support", "parent": None, "owner": "owner@example.com",
                 "billing_mode": "showback", "kind": "division"},
                {"code": "OLD", "name": "Old team", "parent": "SUPPORT", "owner": "owner@example.com",
                 "billing_mode": "showback", "kind": "team", "archived": True},
            ],
            "services": [
                {"name": "retired-bot", "unit": "SALES-DE", "kind": "workflow", "archived": True},
                {"name": "ticket-summarizer", "unit": "SUPPORT", "kind": "service",
                 "description": "Summarises tickets"},
            ],
            "gateway_keys": [
                {"key_id": "gk-any", "unit": "SALES-DE", "service": None, "environment": "",
                 "owner": "keyowner@example.com"},
                {"key_id": "gk-support-prod", "unit": "SUPPORT", "service": "ticket-summarizer",
                 "environment": "production", "owner": "keyowner@example.com"},
            ],
            "provider_accounts": [{"provider": "openai", "account": "proj_support", "unit": "SUPPORT"}],
            "ownership_rules": [
                {"match": {"service": "ticket-summarizer"}, "unit": "SUPPORT"},
                {"match": {"team": "sales", "environment": "production"}, "unit": "SALES-EU",
                 "description": "Sales: prod"},
            ],
            "required_tags": ["team", "service"],
        }  # fmt: skip
        assert "bravo" not in json.dumps(data).lower()


def test_yaml_dump_has_one_line_per_entry(org_a):
    with within(org_a):
        assert dump_config(export_config(org_a)) == (
            "units:\n"
            "  - {code: CENTRAL, name: Alpha Central, parent: null, owner: owner@example.com, "
            "billing_mode: showback, central: true, kind: team}\n"
            "\n"
            "services: []\n"
            "\n"
            "gateway_keys: []\n"
            "\n"
            "provider_accounts: []\n"
            "\n"
            "ownership_rules: []\n"
            "\n"
            "required_tags: [team, service, cost_center, environment]\n"
        )


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_importing_the_export_into_the_same_org_changes_nothing(rich, admin, fmt):
    with within(rich):
        text = dump_config(export_config(rich), fmt)
        before = counts()
        plan = apply_config(rich, parse_config(text), actor=admin.user)
        assert (plan.lines, plan.errors) == ([], [])
        assert counts() == before


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_export_import_export_into_a_fresh_org_is_a_fixed_point(rich, admin, fmt):
    with within(rich):
        text = dump_config(export_config(rich), fmt)
    fresh, _ = create_organization(slug="fresh", name="Fresh")
    with within(fresh):
        apply_config(fresh, parse_config(text), actor="test")
        assert dump_config(export_config(fresh), fmt) == text
        assert apply_config(fresh, parse_config(text), actor="test").changes == []


def test_fresh_orgs_central_unit_is_renamed_to_the_files_central_code(admin):
    source, _ = create_organization(slug="source", name="Source")
    with within(source):
        apply_config(source, parse_config(SAMPLE), actor="test")
        text = dump_config(export_config(source))
    fresh, _ = create_organization(slug="fresh", name="Fresh")
    with within(fresh):
        central_id = BusinessUnit.objects.get(organization=fresh, is_central=True).pk
        apply_config(fresh, parse_config(text), actor="test")
        assert BusinessUnit.objects.get(organization=fresh, code="PLAT").pk == central_id
        assert dump_config(export_config(fresh)) == text


# Commands ----------------------------------------------------------------------------------


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_command_prints_the_plan_then_applies(org_a, unit_tree, tmp_path):
    path = tmp_path / "org.yaml"
    path.write_text(SAMPLE)
    out, _ = run("import_config", "--org", "alpha", "--dry-run", str(path))
    assert out.splitlines() == [*SAMPLE_LINES, "dry run: 9 changes planned, none applied"]
    with within(org_a):
        assert BusinessUnit.objects.filter(organization=org_a, code="SUP").exists() is False
    out, _ = run("import_config", "--org", "alpha", str(path))
    assert out.splitlines() == [*SAMPLE_LINES, "applied 9 changes"]
    with within(org_a):
        event = AuditEvent.objects.get(action="config.imported")
    assert event.actor_label == "command:import_config"
    out, _ = run("import_config", "--org", "alpha", str(path))
    assert out.splitlines() == ["no changes"]


def test_import_command_lists_every_error_and_fails(org_a, unit_tree, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("units: [{code: A, name: A, parent: OPS}]\nservices: [{name: s, unit: XX}]\n")
    err = StringIO()
    before = counts()
    with pytest.raises(CommandError) as exc:
        call_command("import_config", "--org", "alpha", str(path), stdout=StringIO(), stderr=err)
    assert str(exc.value) == f'3 errors in "{path}"; nothing was applied'
    assert err.getvalue().splitlines() == [
        "units[0].owner: required",
        'units[0].parent: unknown code "OPS"',
        'services[0].unit: unknown unit "XX"',
    ]
    assert counts() == before


def test_import_command_bad_input(org_a, tmp_path):
    with pytest.raises(CommandError) as exc:
        run("import_config", "--org", "nope", str(tmp_path / "x.yaml"))
    assert str(exc.value) == 'unknown organization "nope"'
    missing = tmp_path / "missing.yaml"
    with pytest.raises(CommandError) as exc:
        run("import_config", "--org", "alpha", str(missing))
    assert str(exc.value) == f"file not found: {missing}"
    binary = tmp_path / "latin1.yaml"
    binary.write_bytes("units: [{code: A, name: Caf\xe9}]\n".encode("latin-1"))
    with pytest.raises(CommandError) as exc:
        run("import_config", "--org", "alpha", str(binary))
    assert str(exc.value) == f'1 error in "{binary}"; nothing was applied'


def test_export_command(rich, tmp_path):
    with within(rich):
        exported = export_config(rich)
    out, _ = run("export_config", "--org", "alpha")
    assert out == dump_config(exported)
    target = tmp_path / "alpha.json"
    out, _ = run("export_config", "--org", "alpha", "--output", str(target))
    assert out == f"wrote {target} (json)\n"
    assert json.loads(target.read_text()) == exported
    out, _ = run("export_config", "--org", "alpha", "--format", "json")
    assert json.loads(out) == exported
    with pytest.raises(CommandError) as exc:
        run("export_config", "--org", "nope")
    assert str(exc.value) == 'unknown organization "nope"'
    with pytest.raises(CommandError) as exc:
        run("export_config", "--org", "alpha", "--output", str(tmp_path / "no" / "x.yaml"))
    assert (
        str(exc.value) == f'cannot write "{tmp_path / "no" / "x.yaml"}": No such file or directory'
    )


# The page ----------------------------------------------------------------------------------


def urls() -> dict[str, str]:
    return {
        name: reverse(f"units:{name}", kwargs={"org_slug": "alpha"})
        for name in ("config", "config-apply", "config-download")
    }


def test_page_shows_downloads_and_the_upload_form(org_a, admin, client_for):
    response = client_for(admin).get(urls()["config"])
    assert response.status_code == 200
    body = response.content.decode()
    assert f'href="{urls()["config-download"]}?format=yaml"' in body
    assert f'href="{urls()["config-download"]}?format=json"' in body
    assert 'enctype="multipart/form-data"' in body
    assert f'<a href="{urls()["config"]}" aria-current="page">Configuration file</a>' in body


def test_download(rich, admin, client_for):
    with within(rich):
        exported = export_config(rich)
    client = client_for(admin)
    response = client.get(urls()["config-download"], {"format": "yaml"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/yaml; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="alpha-config.yaml"'
    assert response.content.decode() == dump_config(exported)
    response = client.get(urls()["config-download"], {"format": "json"})
    assert json.loads(response.content) == exported
    assert client.get(urls()["config-download"], {"format": "xml"}).status_code == 404


def test_upload_previews_without_writing_then_confirm_applies(org_a, unit_tree, admin, client_for):
    client = client_for(admin)
    before = counts()
    upload = SimpleUploadedFile("org.yaml", SAMPLE.encode(), content_type="application/yaml")
    response = client.post(urls()["config"], {"file": upload})
    assert response.status_code == 200
    assert counts() == before
    assert [str(c) for c in response.context["plan"].changes] == SAMPLE_LINES
    body = response.content.decode()
    assert "Apply 9 changes" in body
    assert "create 2026-10" in body
    assert response.context["confirm"].initial["text"] == SAMPLE
    response = client.post(urls()["config-apply"], {"text": SAMPLE}, follow=True)
    assert response.redirect_chain == [(urls()["config"], 302)]
    assert [str(m) for m in response.context["messages"]] == ["Applied 9 changes."]
    with within(org_a):
        assert BusinessUnit.objects.get(organization=org_a, code="SUP").parent.code == "PLAT"
    audit = client.get(reverse("audit:event-list", kwargs={"org_slug": "alpha"}))
    assert (audit.status_code, "config.imported" in audit.content.decode()) == (200, True)
    response = client.post(urls()["config-apply"], {"text": SAMPLE}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "No changes: the organization already matches the file."
    ]


def test_pasted_text_previews_too(org_a, admin, client_for):
    response = client_for(admin).post(urls()["config"], {"text": "required_tags: [team]"})
    assert [str(c) for c in response.context["plan"].changes] == [
        "required_tags: [team, service, cost_center, environment] -> [team]"
    ]


@pytest.mark.parametrize(
    ("content", "errors"),
    [
        (b"units: [{code: A, name: \xff}]", ["line 1: the file is not UTF-8 text (byte 0xff); save it as UTF-8"]),
        (b"units: [\n", ["line 2, column 1: expected the node content, but found '<stream end>' "
                         "(while parsing a flow node)"]),
        (b"units: 5\nservices: [[1]]\nrequired_tags: {a: 1}",
         ["units: must be a list, not a number (5)",
          "services[0]: must be a mapping such as {name: ..., unit: ...}, not a list",
          "required_tags: must be a list, not a mapping"]),
        (b"- 1\n- 2\n", ["the file must be a mapping of sections, not a list"]),
    ],
)  # fmt: skip
def test_a_bad_upload_shows_its_errors_not_a_500(org_a, admin, client_for, content, errors):
    before = counts()
    upload = SimpleUploadedFile("org.yaml", content)
    response = client_for(admin).post(urls()["config"], {"file": upload})
    assert response.status_code == 200
    shown = (
        response.context["plan"].errors
        if "plan" in response.context
        else (response.context["form"].non_field_errors())
    )
    assert list(shown) == errors
    assert counts() == before


def test_upload_form_needs_exactly_one_source(org_a, admin, client_for):
    client = client_for(admin)
    response = client.post(urls()["config"], {"text": "  "})
    assert response.context["form"].non_field_errors() == [
        "Choose a file or paste the configuration."
    ]
    upload = SimpleUploadedFile("org.yaml", b"units: []")
    response = client.post(urls()["config"], {"file": upload, "text": "units: []"})
    assert response.context["form"].non_field_errors() == ["Choose a file or paste text, not both."]


def test_confirm_revalidates_and_writes_nothing_on_error(org_a, admin, client_for):
    before = counts()
    response = client_for(admin).post(urls()["config-apply"], {"text": "units: [{code: A}]"})
    assert response.status_code == 200
    assert response.context["plan"].errors == [
        "units[0].name: required",
        "units[0].owner: required",
    ]
    assert "nothing will be changed" in response.content.decode()
    assert counts() == before


def test_a_row_changed_between_plan_and_apply_is_an_error_not_a_crash(org_a, admin, monkeypatch):
    with within(org_a):
        import chargeback.provisioning.config as config

        real = config.plan_config

        def plan_then_race(organization, data):
            plan = real(organization, data)
            f.BusinessUnitFactory(
                organization=organization, code="RACE"
            )  # another admin, meanwhile
            return plan

        monkeypatch.setattr(config, "plan_config", plan_then_race)
        before = counts()
        with pytest.raises(ConfigError) as exc:
            apply_config(
                org_a, parse_config(f"units: [{{code: RACE, name: R, {OWNER}}}]"), actor="t"
            )
        assert exc.value.errors == [
            'units[0].code: The code "RACE" is already used by another unit.'
        ]
        assert counts() == before  # the racing row too: one transaction


def test_confirm_is_post_only(org_a, admin, client_for):
    assert client_for(admin).get(urls()["config-apply"]).status_code == 405


@pytest.mark.parametrize("persona", ["finance", "viewer", "team_lead"])
def test_only_admins_may_use_the_page(request, org_a, client_for, persona):
    client = client_for(request.getfixturevalue(persona))
    before = counts()
    assert client.get(urls()["config"]).status_code == 403
    assert client.get(urls()["config-download"]).status_code == 403
    assert client.post(urls()["config"], {"text": SAMPLE}).status_code == 403
    assert client.post(urls()["config-apply"], {"text": SAMPLE}).status_code == 403
    assert counts() == before
    assert (
        "Configuration file"
        not in client.get(reverse("units:unit-list", args=["alpha"])).content.decode()
    )


def test_outsiders_and_other_orgs_get_404(org_a, org_b, outsider, client_for):
    client = client_for(outsider)
    assert client.get(urls()["config"]).status_code == 404
    bravo_admin = org_b.memberships.get().user
    client = client_for(bravo_admin)
    assert client.get(urls()["config-download"]).status_code == 404
    assert client.post(urls()["config-apply"], {"text": SAMPLE}).status_code == 404


def test_confirm_needs_the_csrf_token(org_a, unit_tree, admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin.user)
    before = counts()
    assert client.post(urls()["config-apply"], {"text": SAMPLE}).status_code == 403
    assert counts() == before
