"""The members pages and the membership operations behind them."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chargeback.audit.models import AuditEvent
from chargeback.members.membership import add_member, change_member, remove_member
from chargeback.tenancy.models import Membership, Role
from chargeback.tenancy.scoping import within
from tests import factories as f

NEW_PASSWORD = "a-long-fresh-passphrase-42"


def url(name: str, **kwargs: object) -> str:
    return reverse(f"tenancy:{name}", kwargs={"org_slug": "alpha", **kwargs})


def messages_of(response) -> list[str]:
    return [m.message for m in get_messages(response.wsgi_request)]


def audit(org) -> list[tuple[str, dict | None, dict | None]]:
    with within(org):
        return [
            (e.action, e.before, e.after)
            for e in AuditEvent.objects.filter(organization=org).order_by("id")
        ]


def form_errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200
    return dict(response.context["form"].errors)


@pytest.fixture
def web(client_for, admin):
    return client_for(admin)


# Who may open the pages -------------------------------------------------------------------


def test_members_page_lists_the_members(web, org_a, org_b, admin, team_lead, viewer):
    response = web.get(url("member-list"))
    assert response.status_code == 200
    assert [(m.user.email, m.role) for m in response.context["members"]] == [
        ("admin@alpha.example", "admin"),
        ("lead@alpha.example", "team_lead"),
        ("viewer@alpha.example", "viewer"),
    ]
    assert b"boss@bravo.example" not in response.content
    assert b"SALES-EU" in response.content  # the team lead's unit


@pytest.mark.parametrize("persona", ["finance", "viewer", "team_lead"])
def test_members_pages_are_admin_only(request, client_for, persona, org_a, admin):
    web = client_for(request.getfixturevalue(persona))
    for path in (
        url("member-list"),
        url("member-create"),
        url("member-edit", member_id=admin.pk),
        url("member-remove", member_id=admin.pk),
    ):
        assert (path, web.get(path).status_code) == (path, 403)
        assert (path, web.post(path, {"role": "viewer"}).status_code) == (path, 403)
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN
    assert audit(org_a) == []


def test_members_of_another_org_are_404(web, org_b):
    foreign = Membership.objects.get(organization=org_b)
    assert web.get(url("member-edit", member_id=foreign.pk)).status_code == 404
    assert web.post(url("member-remove", member_id=foreign.pk)).status_code == 404
    assert Membership.objects.filter(pk=foreign.pk).exists()


# Adding ----------------------------------------------------------------------------------


def test_add_a_new_member_who_then_sets_a_password_and_logs_in(
    web,
    org_a,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    assert web.get(url("member-create")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = web.post(
            url("member-create"),
            {"email": "New.Person@Alpha.example", "name": "New Person", "role": "finance"},
        )
    assert response.status_code == 302
    assert response["Location"] == url("member-list")
    user = get_user_model().objects.get(username="new.person@alpha.example")
    assert (user.email, user.first_name, user.last_name) == (
        "new.person@alpha.example",
        "New",
        "Person",
    )
    assert user.has_usable_password() is False
    assert Membership.objects.get(user=user, organization=org_a).role == Role.FINANCE

    added, link_message = messages_of(response)
    assert added == "new.person@alpha.example was added as Finance."
    prefix = "Set-password link (also emailed): "
    assert link_message.startswith(prefix)
    link = link_message.removeprefix(prefix)
    assert link.startswith("http://127.0.0.1:8000/accounts/set-password/")

    [mail] = mailoutbox
    assert mail.to == ["new.person@alpha.example"]
    assert mail.subject == "You have been added to Alpha Industries on Chargeback"
    assert f"Set your password here: {link}\n" in mail.body
    assert "You were added to Alpha Industries as Finance." in mail.body

    assert audit(org_a) == [
        (
            "membership.created",
            None,
            {"user": "new.person@alpha.example", "role": "finance", "units": []},
        )
    ]

    invitee = Client()
    response = invitee.get(urlsplit(link).path, follow=True)
    assert response.status_code == 200
    assert response.context["validlink"] is True
    form_url = response.redirect_chain[-1][0]
    response = invitee.post(
        form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/set-password/done/"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)

    # the link works once
    assert invitee.get(urlsplit(link).path, follow=True).context["validlink"] is False

    response = invitee.post(
        reverse("login"),
        {"username": "new.person@alpha.example", "password": NEW_PASSWORD},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/o/alpha/"
    assert response.context["user"] == user


def test_add_an_existing_user_sends_no_link(
    web,
    org_a,
    org_b,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        response = web.post(url("member-create"), {"email": "boss@bravo.example", "role": "viewer"})
    assert messages_of(response) == ["boss@bravo.example was added as Viewer."]
    assert mailoutbox == []
    assert Membership.objects.filter(user__username="boss@bravo.example").count() == 2


def test_add_a_team_lead_with_units(web, org_a, unit_tree):
    response = web.post(
        url("member-create"),
        {
            "email": "lead2@alpha.example",
            "role": "team_lead",
            "units": [unit_tree["support"].pk, unit_tree["eu"].pk],
        },
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user__username="lead2@alpha.example")
    with within(org_a):
        assert sorted(membership.units.values_list("code", flat=True)) == ["SALES-EU", "SUPPORT"]
    assert audit(org_a)[0][2] == {
        "user": "lead2@alpha.example",
        "role": "team_lead",
        "units": ["SALES-EU", "SUPPORT"],
    }


def test_a_team_lead_needs_a_unit_when_added(web, org_a, unit_tree):
    response = web.post(url("member-create"), {"email": "l@alpha.example", "role": "team_lead"})
    assert form_errors(response) == {"units": ["A team lead needs at least one unit to lead."]}
    assert not get_user_model().objects.filter(username="l@alpha.example").exists()


def test_adding_an_existing_member_again_is_a_field_error(web, org_a, viewer):
    response = web.post(url("member-create"), {"email": "VIEWER@alpha.example", "role": "finance"})
    assert form_errors(response) == {
        "email": ["viewer@alpha.example is already a member of Alpha Industries."]
    }
    assert b"Email: viewer@alpha.example is already a member" in response.content
    viewer.refresh_from_db()
    assert viewer.role == Role.VIEWER
    assert audit(org_a) == []


def test_add_form_offers_only_active_units_of_the_org(web, org_a, org_b, unit_tree):
    f.BusinessUnitFactory(organization=org_a, code="OLD", archived=True)
    form = web.get(url("member-create")).context["form"]
    assert [u.code for u in form.fields["units"].queryset] == [
        "CENTRAL",
        "SALES",
        "SALES-DE",
        "SALES-EU",
        "SUPPORT",
    ]


def test_add_member_operation_validates(org_a, org_b, admin, unit_tree):
    with within(org_a):
        with pytest.raises(ValidationError) as exc:
            add_member(organization=org_a, actor=admin.user, email="not-an-email", role="viewer")
        assert exc.value.message_dict == {"email": ['"not-an-email" is not a valid email address.']}
        with pytest.raises(ValidationError) as exc:
            add_member(organization=org_a, actor=admin.user, email="x@a.example", role="owner")
        assert exc.value.message_dict == {"role": ['Unknown role "owner".']}
        with pytest.raises(ValidationError) as exc:
            add_member(organization=org_a, actor=admin.user, email="x@a.example", role="team_lead")
        assert exc.value.message_dict == {"units": ["A team lead needs at least one unit to lead."]}
    with within(org_b):
        foreign = org_b.units.get(code="BSECRET")
    with within(org_a):
        with pytest.raises(ValidationError) as exc:
            add_member(
                organization=org_a,
                actor=admin.user,
                email="x@a.example",
                role="team_lead",
                units=[foreign],
            )
        assert exc.value.message_dict == {"units": ["Units must belong to the same organization."]}
    assert not get_user_model().objects.filter(username="x@a.example").exists()
    assert audit(org_a) == []


# Changing -----------------------------------------------------------------------------


def test_change_a_members_role(web, org_a, viewer):
    response = web.get(url("member-edit", member_id=viewer.pk))
    assert response.status_code == 200
    assert response.context["form"].initial["role"] == "viewer"
    response = web.post(url("member-edit", member_id=viewer.pk), {"role": "finance"})
    assert response.status_code == 302
    assert messages_of(response) == ["viewer@alpha.example was updated."]
    viewer.refresh_from_db()
    assert viewer.role == Role.FINANCE
    assert audit(org_a) == [
        (
            "membership.updated",
            {"user": "viewer@alpha.example", "role": "viewer", "units": []},
            {"user": "viewer@alpha.example", "role": "finance", "units": []},
        )
    ]


def test_saving_a_member_unchanged_writes_no_audit_event(web, org_a, viewer):
    assert web.post(url("member-edit", member_id=viewer.pk), {"role": "viewer"}).status_code == 302
    assert audit(org_a) == []


def test_a_team_lead_requires_at_least_one_unit(web, org_a, viewer):
    response = web.post(url("member-edit", member_id=viewer.pk), {"role": "team_lead"})
    assert form_errors(response) == {"units": ["A team lead needs at least one unit to lead."]}
    viewer.refresh_from_db()
    assert viewer.role == Role.VIEWER


def test_assign_units_to_a_team_lead(web, org_a, team_lead, unit_tree):
    response = web.post(
        url("member-edit", member_id=team_lead.pk),
        {"role": "team_lead", "units": [unit_tree["support"].pk, unit_tree["de"].pk]},
    )
    assert response.status_code == 302
    with within(org_a):
        assert sorted(team_lead.units.values_list("code", flat=True)) == ["SALES-DE", "SUPPORT"]
    assert audit(org_a) == [
        (
            "membership.updated",
            {"user": "lead@alpha.example", "role": "team_lead", "units": ["SALES-EU"]},
            {"user": "lead@alpha.example", "role": "team_lead", "units": ["SALES-DE", "SUPPORT"]},
        )
    ]


def test_a_team_lead_made_viewer_loses_its_units(web, org_a, team_lead, unit_tree):
    web.post(
        url("member-edit", member_id=team_lead.pk),
        {"role": "viewer", "units": [unit_tree["support"].pk]},
    )
    team_lead.refresh_from_db()
    with within(org_a):
        assert (team_lead.role, list(team_lead.units.all())) == (Role.VIEWER, [])


def test_edit_page_shows_the_set_password_link_of_an_invited_member(web, org_a):
    invited = f.MembershipFactory(
        organization=org_a, user=f.UserFactory(username="inv@alpha.example", password=None)
    )
    response = web.get(url("member-edit", member_id=invited.pk))
    assert response.context["link"].startswith("http://127.0.0.1:8000/accounts/set-password/")
    assert response.context["link"].encode() in response.content


# Removing ---------------------------------------------------------------------------


def test_remove_asks_for_confirmation_first(web, org_a, viewer):
    response = web.get(url("member-remove", member_id=viewer.pk))
    assert response.status_code == 200
    assert response.context["title"] == "Remove viewer@alpha.example?"
    assert response.context["action"] == "Remove member"
    assert Membership.objects.filter(pk=viewer.pk).exists()

    response = web.post(url("member-remove", member_id=viewer.pk))
    assert response.status_code == 302
    assert response["Location"] == url("member-list")
    assert messages_of(response) == ["viewer@alpha.example was removed from Alpha Industries."]
    assert not Membership.objects.filter(pk=viewer.pk).exists()
    assert get_user_model().objects.filter(username="viewer@alpha.example").exists()
    assert audit(org_a) == [
        (
            "membership.removed",
            {"user": "viewer@alpha.example", "role": "viewer", "units": []},
            None,
        )
    ]


def test_the_last_admin_cannot_be_removed(web, org_a, admin):
    response = web.post(url("member-remove", member_id=admin.pk))
    assert response.status_code == 302
    assert messages_of(response) == ["This is the organization's last admin and cannot be removed."]
    assert Membership.objects.filter(pk=admin.pk).exists()
    assert audit(org_a) == []


def test_the_last_admin_cannot_be_demoted(web, org_a, admin):
    response = web.post(url("member-edit", member_id=admin.pk), {"role": "viewer"})
    assert form_errors(response) == {
        "role": ["This is the organization's last admin: make someone else admin first."]
    }
    assert b"Role: This is the organization&#x27;s last admin" in response.content
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN
    assert audit(org_a) == []


def test_an_admin_of_another_org_does_not_count(web, org_a, org_b, admin):
    """Bravo's admin is no second admin of Alpha."""
    response = web.post(url("member-remove", member_id=admin.pk))
    assert Membership.objects.filter(pk=admin.pk).exists()
    assert messages_of(response) == ["This is the organization's last admin and cannot be removed."]


def test_with_a_second_admin_one_may_step_down_and_leave(web, org_a, admin):
    f.MembershipFactory(organization=org_a, role=Role.ADMIN)
    response = web.post(url("member-edit", member_id=admin.pk), {"role": "finance"})
    assert response.status_code == 302
    admin.refresh_from_db()
    assert admin.role == Role.FINANCE


def test_removing_yourself_goes_home(web, org_a, admin):
    f.MembershipFactory(organization=org_a, role=Role.ADMIN)
    response = web.post(url("member-remove", member_id=admin.pk))
    assert response["Location"] == reverse("home")
    assert not Membership.objects.filter(pk=admin.pk).exists()
    assert web.get(url("member-list")).status_code == 404


def test_operations_guard_the_last_admin_too(org_a, admin):
    with within(org_a):
        with pytest.raises(ValidationError):
            remove_member(membership=admin, actor="test")
        with pytest.raises(ValidationError):
            change_member(membership=admin, actor="test", role=Role.FINANCE)
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN


# Query count -------------------------------------------------------------------------


def test_member_list_queries_do_not_grow_with_rows(
    web, org_a, unit_tree, django_assert_num_queries
):
    path = url("member-list")
    web.get(path)
    with CaptureQueriesContext(connection) as one:
        assert len(web.get(path).context["members"]) == 1
    for i in range(2):
        with within(org_a):
            lead = f.MembershipFactory(organization=org_a, role=Role.TEAM_LEAD)
            lead.units.set([unit_tree["eu"], unit_tree["support"]] if i else [unit_tree["de"]])
    with django_assert_num_queries(len(one)):
        assert len(web.get(path).context["members"]) == 3
