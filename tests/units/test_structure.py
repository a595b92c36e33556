"""The organisation structure, through its pages (as the personas) and through save_entity."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chargeback.audit.models import AuditEvent
from chargeback.tenancy.models import Role
from chargeback.tenancy.scoping import within
from chargeback.units.models import (
    BusinessUnit,
    GatewayKey,
    OwnershipRule,
    ProviderAccount,
    Service,
)
from chargeback.units.structure import move_rule, save_entity, set_archived
from tests import factories as f


def url(name: str, **kwargs: object) -> str:
    return reverse(f"units:{name}", kwargs={"org_slug": "alpha", **kwargs})


def messages_of(response) -> list[str]:
    return [m.message for m in get_messages(response.wsgi_request)]


def events(org) -> list[AuditEvent]:
    with within(org):
        return list(AuditEvent.objects.filter(organization=org).order_by("id"))


def actions(org) -> list[str]:
    return [e.action for e in events(org)]


def changed_keys(event: AuditEvent) -> set[str]:
    return {k for k in event.after if event.before.get(k) != event.after[k]}


def unit_data(unit: BusinessUnit | None = None, **changes: object) -> dict:
    data = {
        "code": "NEW",
        "name": "New unit",
        "kind": "team",
        "parent": "",
        "owner_email": "owner@alpha.example",
        "billing_mode": "showback",
    }
    if unit is not None:
        data.update(
            code=unit.code,
            name=unit.name,
            kind=unit.kind,
            parent=unit.parent_id or "",
            owner_email=unit.owner_email,
            billing_mode=unit.billing_mode,
        )
        if unit.is_central:
            data["is_central"] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def form_errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200
    return dict(response.context["form"].errors)


@pytest.fixture
def web(client_for, admin):
    return client_for(admin)


# Business units: create, edit, move ---------------------------------------------------------


def test_create_unit_through_the_page(web, org_a, unit_tree, admin):
    assert web.get(url("unit-create")).status_code == 200
    response = web.post(
        url("unit-create"), unit_data(code="SALES-FR", parent=unit_tree["eu"].pk, kind="team")
    )
    with within(org_a):
        unit = BusinessUnit.objects.get(organization=org_a, code="SALES-FR")
    assert response.status_code == 302
    assert response["Location"] == url("unit-detail", unit_id=unit.pk)
    assert messages_of(response) == ["The business unit SALES-FR · New unit was created."]
    assert unit.parent == unit_tree["eu"]
    [event] = events(org_a)
    assert event.action == "businessunit.created"
    assert event.actor == admin.user
    assert event.actor_label == "admin@alpha.example"
    assert event.object_type == "units.businessunit"
    assert event.object_id == str(unit.pk)
    assert event.before is None
    assert {k: event.after[k] for k in ("code", "name", "parent", "owner_email")} == {
        "code": "SALES-FR",
        "name": "New unit",
        "parent": unit_tree["eu"].pk,
        "owner_email": "owner@alpha.example",
    }


def test_edit_unit_writes_before_and_after(web, org_a, unit_tree):
    support = unit_tree["support"]
    response = web.post(
        url("unit-edit", unit_id=support.pk),
        unit_data(support, name="Customer Support", billing_mode="chargeback"),
    )
    assert response.status_code == 302
    support.refresh_from_db()
    assert (support.name, support.billing_mode) == ("Customer Support", "chargeback")
    [event] = events(org_a)
    assert event.action == "businessunit.updated"
    assert changed_keys(event) == {"name", "billing_mode"}
    assert (event.before["name"], event.after["name"]) == ("Support", "Customer Support")


def test_move_unit_under_another_parent(web, org_a, unit_tree):
    de, support = unit_tree["de"], unit_tree["support"]
    response = web.post(url("unit-edit", unit_id=de.pk), unit_data(de, parent=support.pk))
    assert response.status_code == 302
    de.refresh_from_db()
    assert de.parent == support
    [event] = events(org_a)
    assert event.action == "businessunit.updated"
    assert changed_keys(event) == {"parent"}
    assert (event.before["parent"], event.after["parent"]) == (unit_tree["eu"].pk, support.pk)


def test_moving_a_unit_to_the_top_level(web, unit_tree):
    eu = unit_tree["eu"]
    assert web.post(url("unit-edit", unit_id=eu.pk), unit_data(eu, parent="")).status_code == 302
    eu.refresh_from_db()
    assert eu.parent is None


def test_a_no_op_save_writes_no_audit_event(web, org_a, unit_tree):
    eu = unit_tree["eu"]
    response = web.post(url("unit-edit", unit_id=eu.pk), unit_data(eu))
    assert response.status_code == 302
    assert events(org_a) == []


def test_a_no_op_save_entity_writes_no_audit_event(org_a, unit_tree, admin):
    service = f.ServiceFactory(organization=org_a, unit=unit_tree["eu"])
    with within(org_a):
        save_entity(actor=admin.user, obj=BusinessUnit.objects.get(pk=unit_tree["eu"].pk))
        save_entity(actor=admin.user, obj=Service.objects.get(pk=service.pk))
        assert events(org_a) == []


def test_edit_page_offers_no_parent_inside_the_own_subtree(web, org_a, unit_tree):
    response = web.get(url("unit-edit", unit_id=unit_tree["sales"].pk))
    choices = [u.code for u in response.context["form"].fields["parent"].queryset]
    assert choices == ["CENTRAL", "SUPPORT"]


# Business units: bad input, each named by field -------------------------------------------


def test_duplicate_code_is_refused_case_insensitively(web, org_a, unit_tree):
    response = web.post(url("unit-create"), unit_data(code="sales-eu"))
    assert form_errors(response) == {
        "code": ['The code "sales-eu" is already used by another unit.']
    }
    assert b"Cost-center code: The code &quot;sales-eu&quot; is already used" in response.content
    with within(org_a):
        assert BusinessUnit.objects.filter(organization=org_a).count() == 5
        assert events(org_a) == []


def test_the_same_code_in_another_org_is_fine(web, org_a, org_b):
    assert web.post(url("unit-create"), unit_data(code="BSECRET")).status_code == 302


def test_invalid_code_characters(web, org_a):
    response = web.post(url("unit-create"), unit_data(code="sales eu/1"))
    assert form_errors(response) == {
        "code": ["Use 1-40 letters, digits, '.', '_' or '-', starting with a letter or digit."]
    }


def test_owner_is_required(web, org_a):
    response = web.post(url("unit-create"), unit_data(owner_email=""))
    assert form_errors(response) == {"owner_email": ["This field is required."]}
    assert b"Owner: This field is required." in response.content


def test_moving_a_unit_under_its_descendant_is_refused_on_the_page(web, unit_tree):
    sales = unit_tree["sales"]
    response = web.post(
        url("unit-edit", unit_id=sales.pk), unit_data(sales, parent=unit_tree["de"].pk)
    )
    assert form_errors(response) == {
        "parent": ["Select a valid choice. That choice is not one of the available choices."]
    }
    sales.refresh_from_db()
    assert sales.parent is None


def test_save_entity_refuses_a_cycle(org_a, unit_tree, admin):
    with within(org_a):
        sales = BusinessUnit.objects.get(pk=unit_tree["sales"].pk)
        sales.parent = unit_tree["de"]
        with pytest.raises(ValidationError) as exc:
            save_entity(actor=admin.user, obj=sales)
        assert exc.value.message_dict == {
            "parent": [
                '"SALES-DE" is this unit or one of its descendants: that would make a cycle.'
            ]
        }
        sales.parent = sales
        with pytest.raises(ValidationError) as exc:
            save_entity(actor=admin.user, obj=sales)
        assert exc.value.message_dict == {
            "parent": ['"SALES" is this unit or one of its descendants: that would make a cycle.']
        }
        assert BusinessUnit.objects.get(pk=sales.pk).parent_id is None
        assert events(org_a) == []


def test_archived_parent_is_refused(web, org_a, unit_tree, admin):
    old = f.BusinessUnitFactory(organization=org_a, code="OLD", archived=True)
    response = web.post(url("unit-create"), unit_data(parent=old.pk))
    assert form_errors(response) == {
        "parent": ["Select a valid choice. That choice is not one of the available choices."]
    }
    with within(org_a), pytest.raises(ValidationError) as exc:
        save_entity(
            actor=admin.user,
            obj=BusinessUnit(
                organization=org_a, code="X", name="X", owner_email="x@a.example", parent=old
            ),
        )
    assert exc.value.message_dict == {
        "parent": ['The parent "OLD" is archived: restore it or pick another.']
    }


def test_a_parent_from_another_org_is_refused(org_a, org_b, admin):
    with within(org_b):
        foreign = BusinessUnit.objects.get(organization=org_b, code="BSECRET")
    with within(org_a), pytest.raises(ValidationError) as exc:
        save_entity(
            actor=admin.user,
            obj=BusinessUnit(
                organization=org_a, code="X", name="X", owner_email="x@a.example", parent=foreign
            ),
        )
    assert exc.value.message_dict == {
        "parent": ["The parent must belong to the same organization."]
    }


def test_a_foreign_parent_id_is_not_a_choice_on_the_page(web, org_a, org_b):
    with within(org_b):
        foreign = BusinessUnit.objects.get(organization=org_b, code="BSECRET")
    response = web.post(url("unit-create"), unit_data(parent=foreign.pk))
    assert form_errors(response) == {
        "parent": ["Select a valid choice. That choice is not one of the available choices."]
    }


# The central bucket ------------------------------------------------------------------------


def central_codes(org) -> list[str]:
    with within(org):
        return list(
            BusinessUnit.objects.filter(organization=org, is_central=True).values_list(
                "code", flat=True
            )
        )


def test_marking_another_unit_central_moves_the_flag(web, org_a, org_b, unit_tree):
    support = unit_tree["support"]
    response = web.post(url("unit-edit", unit_id=support.pk), unit_data(support, is_central="on"))
    assert response.status_code == 302
    assert central_codes(org_a) == ["SUPPORT"]
    assert central_codes(org_b) == ["BCENTRAL"]
    by_code = {e.object_repr.split(" ")[0]: e for e in events(org_a)}
    assert actions(org_a) == ["businessunit.updated", "businessunit.updated"]
    assert changed_keys(by_code["SUPPORT"]) == {"is_central"}
    assert changed_keys(by_code["CENTRAL"]) == {"is_central"}
    assert by_code["CENTRAL"].after["is_central"] is False


def test_creating_a_central_unit_moves_the_flag(org_a, admin):
    with within(org_a):
        save_entity(
            actor=admin.user,
            obj=BusinessUnit(
                organization=org_a,
                code="NEWC",
                name="N",
                owner_email="n@a.example",
                is_central=True,
            ),
        )
    assert central_codes(org_a) == ["NEWC"]


def test_the_central_flag_cannot_be_unticked_on_the_page(web, org_a):
    with within(org_a):
        central = BusinessUnit.objects.get(organization=org_a, code="CENTRAL")
    data = unit_data(central, name="Renamed")
    del data["is_central"]
    assert web.post(url("unit-edit", unit_id=central.pk), data).status_code == 302
    assert central_codes(org_a) == ["CENTRAL"]


# Archive and restore -----------------------------------------------------------------------


def test_archive_get_confirms_and_only_post_changes(web, org_a, unit_tree):
    support = unit_tree["support"]
    response = web.get(url("unit-archive", unit_id=support.pk))
    assert response.status_code == 200
    assert response.context["title"] == "Archive business unit SUPPORT · Support?"
    assert response.context["action"] == "Archive"
    support.refresh_from_db()
    assert support.archived is False
    assert events(org_a) == []

    response = web.post(url("unit-archive", unit_id=support.pk))
    assert response.status_code == 302
    assert response["Location"] == url("unit-list")
    assert messages_of(response) == ["The business unit SUPPORT · Support was archived."]
    support.refresh_from_db()
    assert support.archived is True
    [event] = events(org_a)
    assert event.action == "businessunit.updated"
    assert (event.before["archived"], event.after["archived"]) == (False, True)


def test_restore_get_confirms_and_only_post_changes(web, org_a):
    old = f.BusinessUnitFactory(organization=org_a, code="OLD", name="Old", archived=True)
    response = web.get(url("unit-restore", unit_id=old.pk))
    assert response.status_code == 200
    assert response.context["title"] == "Restore business unit OLD · Old?"
    old.refresh_from_db()
    assert old.archived is True
    response = web.post(url("unit-restore", unit_id=old.pk))
    assert messages_of(response) == ["The business unit OLD · Old was restored."]
    old.refresh_from_db()
    assert old.archived is False
    assert actions(org_a) == ["businessunit.updated"]


def test_archiving_a_unit_with_active_children_is_refused(web, org_a, unit_tree):
    sales = unit_tree["sales"]
    response = web.post(url("unit-archive", unit_id=sales.pk))
    assert response.status_code == 302
    assert messages_of(response) == [
        "SALES · Sales cannot be archived: Move or archive its active child units first: SALES-EU"
    ]
    sales.refresh_from_db()
    assert sales.archived is False
    assert events(org_a) == []


def test_archiving_bottom_up_works(org_a, unit_tree, admin):
    with within(org_a):
        for key in ("de", "eu", "sales"):
            set_archived(actor=admin.user, obj=unit_tree[key], archived=True)
        assert list(
            BusinessUnit.objects.filter(organization=org_a, archived=True).values_list(
                "code", flat=True
            )
        ) == ["SALES", "SALES-DE", "SALES-EU"]
        # restoring a child under an archived parent is refused
        with pytest.raises(ValidationError) as exc:
            set_archived(actor=admin.user, obj=unit_tree["de"], archived=False)
        assert exc.value.message_dict == {
            "parent": ['The parent "SALES-EU" is archived: restore it or pick another.']
        }


def test_archiving_the_central_unit_is_refused(web, org_a):
    with within(org_a):
        central = BusinessUnit.objects.get(organization=org_a, code="CENTRAL")
    response = web.post(url("unit-archive", unit_id=central.pk))
    assert messages_of(response) == [
        "CENTRAL · Alpha Central cannot be archived: The central bucket cannot be archived."
    ]
    central.refresh_from_db()
    assert central.archived is False
    assert events(org_a) == []


def test_archive_and_restore_a_service(web, org_a, unit_tree):
    service = f.ServiceFactory(organization=org_a, name="triage", unit=unit_tree["eu"])
    assert web.get(url("service-archive", object_id=service.pk)).status_code == 200
    with within(org_a):
        assert Service.objects.get(pk=service.pk).archived is False
    web.post(url("service-archive", object_id=service.pk))
    with within(org_a):
        assert Service.objects.get(pk=service.pk).archived is True
    web.post(url("service-restore", object_id=service.pk))
    with within(org_a):
        assert Service.objects.get(pk=service.pk).archived is False
    assert actions(org_a) == ["service.updated", "service.updated"]


# Services, gateway keys, provider accounts, rules -----------------------------------------


def test_create_and_edit_a_service(web, org_a, unit_tree):
    eu = unit_tree["eu"]
    data = {"name": "lead-scoring", "kind": "service", "unit": eu.pk, "description": ""}
    response = web.post(url("service-create"), data)
    assert response.status_code == 302
    assert response["Location"] == url("service-list")
    with within(org_a):
        service = Service.objects.get(organization=org_a, name="lead-scoring")
    response = web.post(
        url("service-edit", object_id=service.pk), {**data, "unit": unit_tree["de"].pk}
    )
    assert response.status_code == 302
    assert actions(org_a) == ["service.created", "service.updated"]
    assert changed_keys(events(org_a)[1]) == {"unit"}


def test_duplicate_service_name(web, org_a, unit_tree):
    f.ServiceFactory(organization=org_a, name="lead-scoring", unit=unit_tree["eu"])
    response = web.post(
        url("service-create"),
        {"name": "Lead-Scoring", "kind": "service", "unit": unit_tree["de"].pk},
    )
    assert form_errors(response) == {"name": ['A service named "Lead-Scoring" already exists.']}
    with within(org_a):
        assert Service.objects.filter(organization=org_a).count() == 1


def test_a_service_on_an_archived_unit_is_refused(org_a, admin):
    old = f.BusinessUnitFactory(organization=org_a, code="OLD", archived=True)
    with within(org_a), pytest.raises(ValidationError) as exc:
        save_entity(actor=admin.user, obj=Service(organization=org_a, name="s", unit=old))
    assert exc.value.message_dict == {
        "unit": ['The unit "OLD" is archived: restore it or pick another.']
    }


def test_map_a_gateway_key(web, org_a, unit_tree):
    service = f.ServiceFactory(organization=org_a, name="lead-scoring", unit=unit_tree["eu"])
    data = {
        "key_id": "gk-sales-prod",
        "unit": unit_tree["eu"].pk,
        "service": service.pk,
        "environment": "production",
        "owner_email": "raj@alpha.example",
    }
    assert web.post(url("gatewaykey-create"), data).status_code == 302
    with within(org_a):
        key = GatewayKey.objects.get(organization=org_a, key_id="gk-sales-prod")
    assert (key.unit, key.service) == (unit_tree["eu"], service)
    assert actions(org_a) == ["gatewaykey.created"]


def test_gateway_key_already_mapped(web, org_a, unit_tree):
    f.GatewayKeyFactory(organization=org_a, key_id="gk-sales-prod", unit=unit_tree["eu"])
    data = {
        "key_id": "gk-sales-prod",
        "unit": unit_tree["support"].pk,
        "environment": "production",
        "owner_email": "x@alpha.example",
    }
    response = web.post(url("gatewaykey-create"), data)
    assert form_errors(response) == {
        "key_id": ['The gateway key "gk-sales-prod" is already mapped to SALES-EU.']
    }
    assert b"already mapped to SALES-EU" in response.content
    with within(org_a):
        assert GatewayKey.objects.filter(organization=org_a).count() == 1


def test_the_same_gateway_key_in_another_org_is_fine(web, org_a, org_b, unit_tree):
    data = {
        "key_id": "gk-bravo-secret",
        "unit": unit_tree["eu"].pk,
        "environment": "production",
        "owner_email": "x@alpha.example",
    }
    assert web.post(url("gatewaykey-create"), data).status_code == 302


def test_provider_account_already_mapped(web, org_a, unit_tree):
    f.ProviderAccountFactory(
        organization=org_a, provider="openai", account="proj_sales", unit=unit_tree["eu"]
    )
    data = {"provider": "openai", "account": "proj_sales", "unit": unit_tree["support"].pk}
    response = web.post(url("provideraccount-create"), data)
    assert form_errors(response) == {
        "account": ['The account "openai/proj_sales" is already mapped to SALES-EU.']
    }
    # another provider with the same account name is a different account
    response = web.post(url("provideraccount-create"), {**data, "provider": "anthropic"})
    assert response.status_code == 302
    assert actions(org_a) == ["provideraccount.created"]


def test_delete_a_provider_account_confirms_first(web, org_a, unit_tree):
    account = f.ProviderAccountFactory(organization=org_a, account="proj_x", unit=unit_tree["eu"])
    assert web.get(url("provideraccount-delete", object_id=account.pk)).status_code == 200
    with within(org_a):
        assert ProviderAccount.objects.filter(pk=account.pk).exists()
    response = web.post(url("provideraccount-delete", object_id=account.pk))
    assert messages_of(response) == ["The provider account openai/proj_x was deleted."]
    with within(org_a):
        assert not ProviderAccount.objects.filter(pk=account.pk).exists()
    [event] = events(org_a)
    assert (event.action, event.before["account"], event.after) == (
        "provideraccount.deleted",
        "proj_x",
        None,
    )


def rule_data(unit: BusinessUnit, **match: str) -> dict:
    data = {f"match_{k}": "" for k in ("team", "service", "cost_center", "environment")}
    data.update({"match_gateway_key": "", "unit": unit.pk, "description": ""})
    data.update({f"match_{k}": v for k, v in match.items()})
    return data


def test_create_a_rule_appends_it(web, org_a, unit_tree):
    f.OwnershipRuleFactory(organization=org_a, unit=unit_tree["eu"])
    response = web.post(url("rule-create"), rule_data(unit_tree["de"], cost_center="CC-410"))
    assert response.status_code == 302
    with within(org_a):
        rule = OwnershipRule.objects.get(organization=org_a, match_cost_center="CC-410")
    assert rule.position == 2
    assert rule.match == {"cost_center": "CC-410"}
    assert actions(org_a) == ["ownershiprule.created"]


def test_a_rule_with_no_match_field_is_refused(web, org_a, unit_tree):
    response = web.post(url("rule-create"), rule_data(unit_tree["de"]))
    assert form_errors(response) == {"match_team": ["A rule needs at least one field to match."]}
    assert b"Team: A rule needs at least one field to match." in response.content
    with within(org_a):
        assert OwnershipRule.objects.filter(organization=org_a).count() == 0


def positions(org) -> list[tuple[str, int]]:
    with within(org):
        return [
            (r.match_service, r.position) for r in OwnershipRule.objects.filter(organization=org)
        ]


def test_rule_reordering_renumbers_positions(web, org_a, org_b, unit_tree):
    unit = unit_tree["eu"]
    a = f.OwnershipRuleFactory(organization=org_a, match_service="a", unit=unit, position=5)
    b = f.OwnershipRuleFactory(organization=org_a, match_service="b", unit=unit, position=10)
    c = f.OwnershipRuleFactory(organization=org_a, match_service="c", unit=unit, position=20)

    response = web.post(url("rule-move", object_id=c.pk), {"direction": "up"})
    assert response.status_code == 302
    assert messages_of(response) == ["Rule moved up."]
    assert positions(org_a) == [("a", 1), ("c", 2), ("b", 3)]

    web.post(url("rule-move", object_id=a.pk), {"direction": "down"})
    assert positions(org_a) == [("c", 1), ("a", 2), ("b", 3)]

    # already at the edge: nothing changes, nothing is recorded
    web.post(url("rule-move", object_id=c.pk), {"direction": "up"})
    web.post(url("rule-move", object_id=b.pk), {"direction": "down"})
    assert positions(org_a) == [("c", 1), ("a", 2), ("b", 3)]

    assert [(e.action, e.before, e.after) for e in events(org_a)] == [
        ("ownershiprule.reordered", {"order": [a.pk, b.pk, c.pk]}, {"order": [a.pk, c.pk, b.pk]}),
        ("ownershiprule.reordered", {"order": [a.pk, c.pk, b.pk]}, {"order": [c.pk, a.pk, b.pk]}),
    ]
    with within(org_b):
        assert [r.position for r in OwnershipRule.objects.filter(organization=org_b)] == [1]


def test_rule_move_needs_post_and_a_known_direction(web, org_a, unit_tree):
    rule = f.OwnershipRuleFactory(organization=org_a, unit=unit_tree["eu"])
    assert web.get(url("rule-move", object_id=rule.pk)).status_code == 405
    assert web.post(url("rule-move", object_id=rule.pk), {"direction": "left"}).status_code == 404


def test_move_rule_operation(org_a, unit_tree, admin):
    rules = [
        f.OwnershipRuleFactory(organization=org_a, match_service=s, unit=unit_tree["eu"])
        for s in "xyz"
    ]
    assert positions(org_a) == [("x", 1), ("y", 2), ("z", 3)]
    with within(org_a):
        move_rule(actor=admin.user, rule=rules[0], direction=1)
    assert positions(org_a) == [("y", 1), ("x", 2), ("z", 3)]


# Objects of another org --------------------------------------------------------------------


def test_objects_of_another_org_are_404(web, org_a, org_b):
    with within(org_b):
        unit = BusinessUnit.objects.get(organization=org_b, code="BSECRET")
        service = Service.objects.get(organization=org_b)
        key = GatewayKey.objects.get(organization=org_b)
        account = ProviderAccount.objects.get(organization=org_b)
        rule = OwnershipRule.objects.get(organization=org_b)
    assert web.get(url("unit-detail", unit_id=unit.pk)).status_code == 404
    assert web.get(url("unit-edit", unit_id=unit.pk)).status_code == 404
    assert web.post(url("unit-archive", unit_id=unit.pk)).status_code == 404
    assert web.get(url("service-edit", object_id=service.pk)).status_code == 404
    assert web.post(url("gatewaykey-archive", object_id=key.pk)).status_code == 404
    assert web.post(url("provideraccount-delete", object_id=account.pk)).status_code == 404
    assert web.post(url("rule-move", object_id=rule.pk), {"direction": "up"}).status_code == 404
    with within(org_b):
        assert BusinessUnit.objects.get(pk=unit.pk).archived is False
        assert ProviderAccount.objects.filter(pk=account.pk).exists()


# Team leads, viewers, finance -------------------------------------------------------------


@pytest.fixture
def structure(org_a, unit_tree):
    """One service, key, account and rule on each of the four units."""
    for key, unit in unit_tree.items():
        service = f.ServiceFactory(organization=org_a, name=f"svc-{key}", unit=unit)
        f.GatewayKeyFactory(organization=org_a, key_id=f"gk-{key}", unit=unit, service=service)
        f.ProviderAccountFactory(organization=org_a, account=f"proj_{key}", unit=unit)
        f.OwnershipRuleFactory(organization=org_a, match_service=f"svc-{key}", unit=unit)
    return unit_tree


def listed(response) -> list[str]:
    assert response.status_code == 200
    if "rows" in response.context:
        return [unit.code for unit, _depth in response.context["rows"]]
    return [
        str(obj) if not hasattr(obj, "match") else obj.match_service
        for obj in response.context["page"]
    ]


def test_team_lead_sees_only_its_subtree(client_for, team_lead, structure, org_b):
    web = client_for(team_lead)
    assert listed(web.get(url("unit-list"))) == ["SALES-EU", "SALES-DE"]
    assert listed(web.get(url("service-list"))) == ["svc-de", "svc-eu"]
    assert listed(web.get(url("gatewaykey-list"))) == ["gk-de", "gk-eu"]
    assert listed(web.get(url("provideraccount-list"))) == ["openai/proj_de", "openai/proj_eu"]
    assert listed(web.get(url("rule-list"))) == ["svc-eu", "svc-de"]


def test_admin_sees_every_unit_of_its_org_in_tree_order(web, structure, org_b):
    rows = web.get(url("unit-list")).context["rows"]
    assert [(unit.code, depth) for unit, depth in rows] == [
        ("CENTRAL", 0),
        ("SALES", 0),
        ("SALES-EU", 1),
        ("SALES-DE", 2),
        ("SUPPORT", 0),
    ]
    assert listed(web.get(url("service-list"))) == ["svc-de", "svc-eu", "svc-sales", "svc-support"]


def test_unit_detail_within_and_outside_a_team_leads_reach(client_for, team_lead, structure):
    web = client_for(team_lead)
    response = web.get(url("unit-detail", unit_id=structure["eu"].pk))
    assert response.status_code == 200
    assert [(u.code, d) for u, d in response.context["subtree"]] == [
        ("SALES-EU", 0),
        ("SALES-DE", 1),
    ]
    assert [s.name for s in response.context["services"]] == ["svc-eu"]
    assert [m.user.email for m in response.context["leads"]] == ["lead@alpha.example"]
    assert web.get(url("unit-detail", unit_id=structure["de"].pk)).status_code == 200
    assert web.get(url("unit-detail", unit_id=structure["sales"].pk)).status_code == 404
    assert web.get(url("unit-detail", unit_id=structure["support"].pk)).status_code == 404


def manage_requests(structure, org_a) -> list[tuple[str, str]]:
    eu = structure["eu"]
    with within(org_a):
        service = Service.objects.get(organization=org_a, unit=eu)
        key = GatewayKey.objects.get(organization=org_a, unit=eu)
        account = ProviderAccount.objects.get(organization=org_a, unit=eu)
        rule = OwnershipRule.objects.get(organization=org_a, unit=eu)
    return [
        ("get", url("unit-create")),
        ("post", url("unit-create")),
        ("get", url("unit-edit", unit_id=eu.pk)),
        ("post", url("unit-edit", unit_id=eu.pk)),
        ("get", url("unit-archive", unit_id=eu.pk)),
        ("post", url("unit-archive", unit_id=eu.pk)),
        ("post", url("unit-restore", unit_id=eu.pk)),
        ("get", url("service-create")),
        ("post", url("service-edit", object_id=service.pk)),
        ("post", url("service-archive", object_id=service.pk)),
        ("get", url("gatewaykey-create")),
        ("post", url("gatewaykey-edit", object_id=key.pk)),
        ("post", url("gatewaykey-archive", object_id=key.pk)),
        ("get", url("provideraccount-create")),
        ("post", url("provideraccount-edit", object_id=account.pk)),
        ("post", url("provideraccount-delete", object_id=account.pk)),
        ("get", url("rule-create")),
        ("post", url("rule-edit", object_id=rule.pk)),
        ("post", url("rule-archive", object_id=rule.pk)),
        ("post", url("rule-move", object_id=rule.pk)),
    ]


@pytest.mark.parametrize("persona", ["team_lead", "viewer", "finance"])
def test_only_admins_may_change_the_structure(request, client_for, persona, structure, org_a):
    web = client_for(request.getfixturevalue(persona))
    for method, path in manage_requests(structure, org_a):
        response = getattr(web, method)(path, {"direction": "up"} if "move" in path else {})
        assert (method, path, response.status_code) == (method, path, 403)
    assert b"Your role does not allow this (units.manage)." in response.content
    assert events(org_a) == []
    with within(org_a):
        assert BusinessUnit.objects.filter(organization=org_a, archived=True).count() == 0
        assert ProviderAccount.objects.filter(organization=org_a).count() == 4


@pytest.mark.parametrize("persona", ["team_lead", "viewer", "finance"])
def test_read_only_roles_see_no_manage_buttons(request, client_for, persona, structure):
    web = client_for(request.getfixturevalue(persona))
    response = web.get(url("service-list"))
    assert url("service-create").encode() not in response.content
    response = web.get(url("unit-detail", unit_id=structure["eu"].pk))
    assert url("unit-edit", unit_id=structure["eu"].pk).encode() not in response.content


def test_admin_sees_manage_buttons(web, structure):
    assert url("service-create").encode() in web.get(url("service-list")).content
    response = web.get(url("unit-detail", unit_id=structure["eu"].pk))
    assert url("unit-edit", unit_id=structure["eu"].pk).encode() in response.content


# Search, filters, pagination -------------------------------------------------------------


def test_unit_list_search_and_archived_filter(web, org_a, unit_tree):
    f.BusinessUnitFactory(organization=org_a, code="SALES-OLD", name="Old sales", archived=True)
    assert listed(web.get(url("unit-list"), {"q": "sales"})) == ["SALES", "SALES-EU", "SALES-DE"]
    assert listed(web.get(url("unit-list"), {"q": "germany"})) == ["SALES-DE"]
    assert listed(web.get(url("unit-list"), {"show": "archived"})) == ["SALES-OLD"]
    assert listed(web.get(url("unit-list"), {"q": "sales", "show": "all"})) == [
        "SALES",
        "SALES-EU",
        "SALES-DE",
        "SALES-OLD",
    ]
    assert listed(web.get(url("unit-list"), {"q": "nothing-like-this"})) == []


def test_service_list_search_and_archived_filter(web, org_a, unit_tree):
    f.ServiceFactory(organization=org_a, name="triage", unit=unit_tree["eu"])
    f.ServiceFactory(organization=org_a, name="summarizer", unit=unit_tree["support"])
    f.ServiceFactory(organization=org_a, name="old-triage", unit=unit_tree["eu"], archived=True)
    assert listed(web.get(url("service-list"))) == ["summarizer", "triage"]
    assert listed(web.get(url("service-list"), {"q": "TRIAGE"})) == ["triage"]
    assert listed(web.get(url("service-list"), {"q": "sales-eu"})) == ["triage"]
    assert listed(web.get(url("service-list"), {"show": "archived"})) == ["old-triage"]
    assert listed(web.get(url("service-list"), {"show": "all", "q": "triage"})) == [
        "old-triage",
        "triage",
    ]


def test_key_and_rule_lists_filter(web, org_a, structure):
    with within(org_a):
        GatewayKey.objects.filter(key_id="gk-de").update(archived=True)
    assert listed(web.get(url("gatewaykey-list"), {"q": "sales"})) == ["gk-eu", "gk-sales"]
    assert listed(web.get(url("gatewaykey-list"), {"show": "archived"})) == ["gk-de"]
    assert listed(web.get(url("rule-list"), {"q": "support"})) == ["svc-support"]


def test_lists_paginate_at_fifty(web, org_a, unit_tree):
    for i in range(55):
        f.ServiceFactory(organization=org_a, name=f"svc-{i:03d}", unit=unit_tree["eu"])
    first = web.get(url("service-list"))
    assert len(first.context["page"]) == 50
    assert b"Page 1 of 2 \xc2\xb7 55 rows" in first.content
    assert b'href="?q=&amp;show=active&amp;page=2"' in first.content
    second = web.get(url("service-list"), {"page": 2})
    assert listed(second) == [f"svc-{i:03d}" for i in range(50, 55)]
    assert listed(web.get(url("service-list"), {"page": 99})) == listed(second)
    assert listed(web.get(url("service-list"), {"q": "svc-05", "page": 1})) == [
        f"svc-{i:03d}" for i in range(50, 55)
    ]


def test_htmx_list_request_renders_the_rows_partial(web, org_a, unit_tree):
    f.ServiceFactory(organization=org_a, name="triage", unit=unit_tree["eu"])
    response = web.get(url("service-list"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"triage" in response.content
    assert b"<html" not in response.content


# Query counts: the same at 1 and at 3 rows ----------------------------------------------


@pytest.fixture
def same_queries(django_assert_num_queries):
    def check(web, path: str, add_rows, expected_rows) -> None:
        add_rows(0, 1)
        web.get(path)  # warm up caches (content types, sessions)
        with CaptureQueriesContext(connection) as one:
            assert len(expected_rows(web.get(path))) == 1
        add_rows(1, 3)
        with django_assert_num_queries(len(one)):
            assert len(expected_rows(web.get(path))) == 3

    return check


def page_rows(response) -> list:
    return list(response.context["page"])


def test_unit_list_queries(web, org_a, same_queries):
    with within(org_a):
        parent = BusinessUnit.objects.get(organization=org_a, code="CENTRAL")

    def add(start: int, stop: int) -> None:
        for i in range(max(start, 1), stop):
            f.BusinessUnitFactory(organization=org_a, code=f"T{i}", parent=parent)

    same_queries(web, url("unit-list"), add, lambda r: r.context["rows"])


def test_service_list_queries(web, org_a, same_queries):
    def add(start: int, stop: int) -> None:
        for i in range(start, stop):
            f.ServiceFactory(organization=org_a, name=f"s{i}", unit__organization=org_a)

    same_queries(web, url("service-list"), add, page_rows)


def test_gateway_key_list_queries(web, org_a, same_queries):
    def add(start: int, stop: int) -> None:
        for i in range(start, stop):
            service = f.ServiceFactory(organization=org_a, name=f"s{i}")
            f.GatewayKeyFactory(organization=org_a, key_id=f"k{i}", service=service)

    same_queries(web, url("gatewaykey-list"), add, page_rows)


def test_provider_account_list_queries(web, org_a, same_queries):
    def add(start: int, stop: int) -> None:
        for i in range(start, stop):
            f.ProviderAccountFactory(organization=org_a, account=f"a{i}")

    same_queries(web, url("provideraccount-list"), add, page_rows)


def test_rule_list_queries(web, org_a, same_queries):
    def add(start: int, stop: int) -> None:
        for i in range(start, stop):
            f.OwnershipRuleFactory(organization=org_a, match_team=f"t{i}")

    same_queries(web, url("rule-list"), add, page_rows)


def test_team_lead_unit_list_queries(client_for, org_a, unit_tree, same_queries):
    lead = f.MembershipFactory(organization=org_a, role=Role.TEAM_LEAD)
    with within(org_a):
        lead.units.set([unit_tree["support"]])

    def add(start: int, stop: int) -> None:
        for i in range(max(start, 1), stop):
            f.BusinessUnitFactory(organization=org_a, code=f"T{i}", parent=unit_tree["support"])

    same_queries(client_for(lead), url("unit-list"), add, lambda r: r.context["rows"])
