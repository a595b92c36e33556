"""Audit events: append-only rows, the one write path, and the audit log page."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from chargeback.audit.log import record, snapshot
from chargeback.audit.models import AppendOnlyError, AuditEvent
from chargeback.tenancy.scoping import within
from chargeback.units.models import BusinessUnit
from tests import factories as f

UTC = dt.UTC
PATH = "/o/alpha/audit/"


# Append-only -----------------------------------------------------------------------------


@pytest.fixture
def event(org_a, admin):
    with within(org_a):
        return record(organization=org_a, actor=admin.user, action="thing.done", object_repr="x")


def test_saving_an_existing_event_raises(event):
    event.action = "thing.undone"
    with pytest.raises(AppendOnlyError):
        event.save()
    with within(event.organization):
        assert AuditEvent.objects.get(pk=event.pk).action == "thing.done"


def test_deleting_an_event_raises(event):
    with pytest.raises(AppendOnlyError):
        event.delete()
    with within(event.organization):
        assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_queryset_update_and_delete_raise(event, org_a):
    with within(org_a):
        with pytest.raises(AppendOnlyError):
            AuditEvent.objects.filter(pk=event.pk).update(action="thing.undone")
        with pytest.raises(AppendOnlyError):
            AuditEvent.objects.filter(pk=event.pk).delete()
        with pytest.raises(AppendOnlyError):
            AuditEvent.objects.all().delete()
        event.action = "thing.undone"
        with pytest.raises(AppendOnlyError), transaction.atomic():
            AuditEvent.objects.bulk_update([event], ["action"])
    # Across organisations, unscoped on purpose: no query changes an event there either.
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.with_scopes_disabled().update(action="thing.undone")
    with scopes_disabled(), pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with within(org_a):
        assert list(AuditEvent.objects.values_list("action", flat=True)) == ["thing.done"]


def test_new_events_can_still_be_appended(event, org_a):
    with within(org_a):
        record(organization=org_a, actor="command:test", action="thing.again")
        assert AuditEvent.objects.filter(organization=org_a).count() == 2


# The write path ------------------------------------------------------------------------


def test_record_labels_users_and_commands(org_a, admin, unit_tree):
    with within(org_a):
        by_user = record(
            organization=org_a, actor=admin.user, action="a.b", obj=unit_tree["eu"], after={"n": 1}
        )
        assert (
            by_user.actor,
            by_user.actor_label,
            by_user.object_type,
            by_user.object_id,
            by_user.object_repr,
            by_user.before,
            by_user.after,
        ) == (
            admin.user,
            "admin@alpha.example",
            "units.businessunit",
            str(unit_tree["eu"].pk),
            "SALES-EU · Sales Europe",
            None,
            {"n": 1},
        )
        by_command = record(organization=org_a, actor="command:seed_demo", action="a.b")
        assert (by_command.actor, by_command.actor_label, by_command.object_type) == (
            None,
            "command:seed_demo",
            "",
        )
        assert record(organization=org_a, actor=None, action="a.b").actor_label == "system"


def test_record_makes_values_json_safe(org_a):
    with within(org_a):
        event = record(
            organization=org_a,
            actor="t",
            action="a.b",
            after={
                "amount": decimal.Decimal("1.500000000001"),
                "day": dt.date(2025, 3, 1),
                1: [org_a],
            },
        )
        event.refresh_from_db()
        assert event.after == {"amount": "1.500000000001", "day": "2025-03-01", "1": [org_a.pk]}


def test_snapshot_has_the_fields_but_not_the_save_timestamp(org_a, unit_tree):
    eu = unit_tree["eu"]
    data = snapshot(eu)
    assert data == {
        "id": eu.pk,
        "organization": org_a.pk,
        "code": "SALES-EU",
        "name": "Sales Europe",
        "kind": "department",
        "parent": unit_tree["sales"].pk,
        "owner_email": "owner@example.com",
        "billing_mode": "showback",
        "is_central": False,
        "archived": False,
        "created_at": eu.created_at.isoformat(),
    }
    with within(org_a):
        BusinessUnit.objects.get(pk=eu.pk).save()  # touches updated_at only
        assert snapshot(BusinessUnit.objects.get(pk=eu.pk)) == data
    assert snapshot(None) is None


# The audit log page --------------------------------------------------------------------


@pytest.fixture
def history(org_a, org_b, admin, finance):
    """Three Alpha events on three days (the org's timezone is Europe/Berlin)."""
    at = [
        dt.datetime(2025, 3, 1, 10, 0, tzinfo=UTC),
        dt.datetime(2025, 3, 2, 23, 30, tzinfo=UTC),  # 2025-03-03 00:30 in Berlin
        dt.datetime(2025, 3, 5, 8, 0, tzinfo=UTC),
    ]
    rows = [
        (admin.user, "businessunit.created", "SALES · Sales"),
        (finance.user, "membership.updated", "viewer@alpha.example"),
        ("command:seed_demo", "service.created", "triage"),
    ]
    events = []
    with within(org_a):
        for when, (actor, action, repr_) in zip(at, rows, strict=True):
            with time_machine.travel(when, tick=False):
                events.append(
                    record(organization=org_a, actor=actor, action=action, object_repr=repr_)
                )
    return events


def shown(response) -> list[str]:
    assert response.status_code == 200
    return [e.action for e in response.context["page"]]


@pytest.mark.parametrize("persona", ["admin", "finance"])
def test_admin_and_finance_see_the_audit_log(request, client_for, persona, history):
    response = client_for(request.getfixturevalue(persona)).get(PATH)
    assert shown(response) == ["service.created", "membership.updated", "businessunit.created"]
    assert list(response.context["actions"]) == [
        "businessunit.created",
        "membership.updated",
        "service.created",
    ]
    assert b"Bravo Secret Audit" not in response.content
    assert b"unit.secret" not in response.content
    assert b"boss@bravo.example" not in response.content


@pytest.mark.parametrize("persona", ["viewer", "team_lead"])
def test_viewer_and_team_lead_may_not(request, client_for, persona, history):
    response = client_for(request.getfixturevalue(persona)).get(PATH)
    assert response.status_code == 403
    assert b"Your role does not allow this (audit.view)." in response.content


def test_outsiders_and_other_orgs_get_404(client_for, outsider, history, org_b):
    assert client_for(outsider).get(PATH).status_code == 404
    boss = org_b.memberships.get().user
    assert client_for(boss).get(PATH).status_code == 404


def test_times_are_shown_in_the_orgs_timezone(client_for, admin, history):
    content = client_for(admin).get(PATH).content
    assert b"2025-03-03 00:30:00" in content
    assert b"2025-03-01 11:00:00" in content


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "businessunit.created"}, ["businessunit.created"]),
        ({"action": "membership"}, ["membership.updated"]),
        ({"action": "nothing.like.this"}, []),
        ({"actor": "FINANCE@alpha"}, ["membership.updated"]),
        ({"actor": "command:"}, ["service.created"]),
        ({"object": "triage"}, ["service.created"]),
        ({"object": "sales"}, ["businessunit.created"]),
        ({"since": "2025-03-02"}, ["service.created", "membership.updated"]),
        ({"since": "2025-03-03"}, ["service.created", "membership.updated"]),
        ({"since": "2025-03-04"}, ["service.created"]),
        ({"until": "2025-03-02"}, ["businessunit.created"]),
        ({"until": "2025-03-03"}, ["membership.updated", "businessunit.created"]),
        ({"since": "2025-03-03", "until": "2025-03-03"}, ["membership.updated"]),
        ({"since": "2025-03-06"}, []),
        ({"actor": "admin", "since": "2025-03-02"}, []),
    ],
)
def test_filters(client_for, admin, history, params, expected):
    assert shown(client_for(admin).get(PATH, params)) == expected


def test_a_malformed_date_is_ignored_not_a_500(client_for, admin, history):
    response = client_for(admin).get(PATH, {"since": "2025-13-45", "until": "yesterday"})
    assert shown(response) == ["service.created", "membership.updated", "businessunit.created"]
    assert (response.context["filters"]["since"], response.context["filters"]["until"]) == ("", "")
    response = client_for(admin).get(PATH, {"until": "9999-12-31"})
    assert shown(response) == ["service.created", "membership.updated", "businessunit.created"]


def test_htmx_request_renders_only_the_rows(client_for, admin, history):
    response = client_for(admin).get(PATH, {"actor": "finance"}, headers={"HX-Request": "true"})
    assert shown(response) == ["membership.updated"]
    assert b"<html" not in response.content


def test_audit_log_paginates(client_for, admin, org_a):
    with within(org_a):
        for i in range(55):
            record(organization=org_a, actor="t", action=f"thing.n{i:02d}")
    web = client_for(admin)
    assert len(shown(web.get(PATH))) == 50
    assert shown(web.get(PATH, {"page": 2})) == [f"thing.n{i:02d}" for i in range(4, -1, -1)]


def test_audit_log_queries_do_not_grow_with_rows(
    client_for, admin, org_a, django_assert_num_queries
):
    web = client_for(admin)
    with within(org_a):
        record(organization=org_a, actor=admin.user, action="a.one", object_repr="one")
    web.get(PATH)
    with CaptureQueriesContext(connection) as one:
        assert len(shown(web.get(PATH))) == 1
    with within(org_a):
        for i in range(2):
            actor = f.MembershipFactory(organization=org_a).user
            record(
                organization=org_a,
                actor=actor,
                action=f"a.more{i}",
                before={"x": i},
                after={"x": i + 1},
            )
    with django_assert_num_queries(len(one)):
        assert len(shown(web.get(PATH))) == 3
