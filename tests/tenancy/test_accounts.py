"""Logging in and out, passwords, the organization switcher, CSRF and the error pages."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from chargeback.tenancy.models import Membership, Role
from chargeback.tenancy.views import server_error
from tests import factories as f

BAD_LOGIN = (
    "Please enter a correct username and password. Note that both fields may be case-sensitive."
)


def without_csrf(content: bytes) -> bytes:
    """The page without its (per-render masked) CSRF token."""
    content = re.sub(rb'"X-CSRFToken": "[^"]*"', b"", content)
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", content)


# Log in, log out, passwords -----------------------------------------------------------


def test_login_page(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert list(response.context["form"].fields) == ["username", "password"]
    assert b"Log in to Chargeback" in response.content


def test_login_with_a_wrong_password_shows_an_error(client, admin):
    response = client.post(
        reverse("login"), {"username": "admin@alpha.example", "password": "wrong"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"__all__": [BAD_LOGIN]}
    assert b"Please enter a correct username and password." in response.content
    assert response.context["user"].is_authenticated is False


def test_login_then_logout(client, admin):
    response = client.post(
        reverse("login"), {"username": "admin@alpha.example", "password": f.PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/")["Location"] == "/o/alpha/"
    assert client.get(reverse("logout")).status_code == 405  # logging out takes a POST
    assert client.get("/o/alpha/").status_code == 200

    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert client.get("/o/alpha/")["Location"] == "/accounts/login/?next=/o/alpha/"


def test_login_follows_next(client, admin):
    response = client.get("/o/alpha/units/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/o/alpha/units/"
    response = client.post(
        response["Location"],
        {"username": "admin@alpha.example", "password": f.PASSWORD, "next": "/o/alpha/units/"},
    )
    assert response["Location"] == "/o/alpha/units/"


def test_logged_in_user_on_the_login_page_goes_home(client_for, admin):
    assert client_for(admin).get(reverse("login"))["Location"] == "/"


def test_password_change_flow(client_for, admin):
    web = client_for(admin)
    assert web.get(reverse("password_change")).status_code == 200
    response = web.post(
        reverse("password_change"),
        {
            "old_password": "wrong",
            "new_password1": "n3w-pass-phrase!",
            "new_password2": "n3w-pass-phrase!",
        },
    )
    assert response.context["form"].errors == {
        "old_password": ["Your old password was entered incorrectly. Please enter it again."]
    }
    response = web.post(
        reverse("password_change"),
        {
            "old_password": f.PASSWORD,
            "new_password1": "n3w-pass-phrase!",
            "new_password2": "n3w-pass-phrase!",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    assert web.get(reverse("password_change_done")).status_code == 200  # still logged in
    admin.user.refresh_from_db()
    assert admin.user.check_password("n3w-pass-phrase!")
    assert Client().login(username="admin@alpha.example", password="n3w-pass-phrase!")


def test_password_change_needs_a_login(client, db):
    response = client.get(reverse("password_change"))
    assert response["Location"] == "/accounts/login/?next=/accounts/password/"


# Anonymous users, home, the org switcher ----------------------------------------------


@pytest.mark.parametrize("path", ["/", "/orgs/", "/o/alpha/", "/o/alpha/units/", "/o/nope/audit/"])
def test_anonymous_requests_go_to_login(client, org_a, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_home_sends_a_single_org_user_to_its_overview(client_for, viewer):
    assert client_for(viewer).get("/")["Location"] == "/o/alpha/"


def test_home_sends_a_multi_org_user_to_the_org_list(client_for, admin, org_b):
    Membership.objects.create(user=admin.user, organization=org_b, role=Role.VIEWER)
    web = client_for(admin)
    assert web.get("/")["Location"] == "/orgs/"
    response = web.get("/orgs/")
    assert [(m.organization.slug, m.role) for m in response.context["memberships"]] == [
        ("alpha", "admin"),
        ("bravo", "viewer"),
    ]
    main = re.search(r"<main.*?</main>", response.content.decode(), re.S).group(0)
    assert re.findall(r'<a href="(/o/[^"]+)"[^>]*>([^<]+)</a>', main) == [
        ("/o/alpha/", "Alpha Industries"),
        ("/o/bravo/", "Bravo Secretcorp"),
    ]


def test_a_user_without_org_sees_an_empty_org_list(client_for, outsider):
    web = client_for(outsider)
    assert web.get("/")["Location"] == "/orgs/"
    response = web.get("/orgs/")
    assert list(response.context["memberships"]) == []
    assert b"You are not a member of any organization yet" in response.content


def switcher_links(response) -> list[tuple[str, str]]:
    """(href, text) of the links in the header's organization switcher."""
    html = response.content.decode()
    block = re.search(r'<details class="switcher">(.*?)</details>', html, re.S)
    assert block is not None
    return re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', block.group(1))


def test_org_switcher_links_the_other_orgs(client_for, admin, org_b):
    Membership.objects.create(user=admin.user, organization=org_b, role=Role.VIEWER)
    response = client_for(admin).get("/o/alpha/")
    assert response.context["other_orgs"] == [org_b]
    assert switcher_links(response) == [
        ("/o/bravo/", "Bravo Secretcorp"),
        ("/orgs/", "All organizations"),
    ]
    response = client_for(admin).get("/o/bravo/")
    assert response.context["org"] == org_b
    assert switcher_links(response) == [
        ("/o/alpha/", "Alpha Industries"),
        ("/orgs/", "All organizations"),
    ]


def test_org_switcher_of_a_single_org_user(client_for, viewer, org_b):
    response = client_for(viewer).get("/o/alpha/")
    assert response.context["other_orgs"] == []
    assert switcher_links(response) == [("/orgs/", "All organizations")]
    assert b"Bravo" not in response.content


def test_an_outsider_gets_404_whether_or_not_the_org_exists(client_for, outsider, org_a):
    web = client_for(outsider)
    existing = web.get("/o/alpha/")
    missing = web.get("/o/no-such-org/")
    assert (existing.status_code, missing.status_code) == (404, 404)
    assert b"There is nothing here, or it is not yours to see." in existing.content
    assert without_csrf(existing.content) == without_csrf(missing.content)
    assert b"Alpha" not in existing.content


def test_a_member_of_one_org_gets_404_in_another(client_for, admin, org_b):
    web = client_for(admin)
    assert web.get("/o/bravo/").status_code == 404
    assert web.get("/o/bravo/units/").status_code == 404
    assert web.get("/o/bravo/members/").status_code == 404


# CSRF ----------------------------------------------------------------------------------


def test_login_post_without_a_csrf_token_is_refused(admin):
    web = Client(enforce_csrf_checks=True)
    response = web.post(
        reverse("login"), {"username": "admin@alpha.example", "password": f.PASSWORD}
    )
    assert response.status_code == 403
    assert web.get("/").status_code == 302  # still anonymous
    assert web.get("/")["Location"] == "/accounts/login/?next=/"


def test_login_post_with_a_csrf_token_works(admin):
    web = Client(enforce_csrf_checks=True)
    web.get(reverse("login"))
    token = web.cookies["csrftoken"].value
    response = web.post(
        reverse("login"),
        {"username": "admin@alpha.example", "password": f.PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert web.get("/")["Location"] == "/o/alpha/"


def test_org_post_without_a_csrf_token_changes_nothing(admin, unit_tree):
    web = Client(enforce_csrf_checks=True)
    web.force_login(admin.user)
    path = reverse(
        "units:unit-archive", kwargs={"org_slug": "alpha", "unit_id": unit_tree["de"].pk}
    )
    assert web.post(path).status_code == 403
    unit_tree["de"].refresh_from_db()
    assert unit_tree["de"].archived is False
    web.get(path)  # the confirmation page sets the cookie
    response = web.post(path, {"csrfmiddlewaretoken": web.cookies["csrftoken"].value})
    assert response.status_code == 302
    unit_tree["de"].refresh_from_db()
    assert unit_tree["de"].archived is True


def test_htmx_header_token_is_accepted(admin, unit_tree):
    """htmx sends the token in X-CSRFToken (base.html's hx-headers)."""
    web = Client(enforce_csrf_checks=True)
    web.force_login(admin.user)
    path = reverse(
        "units:unit-archive", kwargs={"org_slug": "alpha", "unit_id": unit_tree["de"].pk}
    )
    web.get(path)
    response = web.post(path, headers={"X-CSRFToken": web.cookies["csrftoken"].value})
    assert response.status_code == 302


# Error pages ----------------------------------------------------------------------------


def test_unknown_urls_get_the_styled_404_page(client_for, admin, settings):
    settings.DEBUG = False
    web = client_for(admin)
    for path in ("/no/such/page/", "/o/alpha/no-such-page/", "/o/alpha/units/999999/"):
        response = web.get(path)
        assert (path, response.status_code) == (path, 404)
        assert b"<h1>Not found</h1>" in response.content
        assert b"There is nothing here, or it is not yours to see." in response.content
        assert b'class="topbar"' in response.content  # the site's layout
        assert b"Traceback" not in response.content
        assert b"Page not found at" not in response.content  # Django's debug page


def test_forbidden_is_the_styled_403_page(client_for, viewer):
    response = client_for(viewer).get("/o/alpha/members/")
    assert response.status_code == 403
    assert b"<h1>Not allowed</h1>" in response.content
    assert b"Your role does not allow this (members.manage)." in response.content


@pytest.fixture
def failing_urls(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.tenancy.urls_errors"


@pytest.mark.parametrize("path", ["/test-boom/", "/o/alpha/test-boom/"])
def test_an_unexpected_exception_renders_the_500_page(client_for, admin, failing_urls, path):
    web = client_for(admin)
    web.raise_request_exception = False
    response = web.get(path)
    assert response.status_code == 500
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b"<h1>Something went wrong</h1>" in response.content
    assert (
        b"The error was logged. Please try again, or tell your administrator." in response.content
    )
    assert b"kaboom" not in response.content
    assert b"Traceback" not in response.content


def test_an_unexpected_api_exception_is_json(client_for, admin, failing_urls):
    web = client_for(admin)
    web.raise_request_exception = False
    response = web.get("/api/test-boom/")
    assert response.status_code == 500
    assert response.json() == {
        "detail": "The error was logged. Please try again, or tell your administrator."
    }


def test_the_500_page_needs_no_database(rf, admin, django_assert_num_queries):
    """The failure may be the database itself: the 500 page must not query it."""
    request = rf.get("/o/alpha/")
    request.user = admin.user
    with django_assert_num_queries(0):
        response = server_error(request)
    assert response.status_code == 500
    assert b"<h1>Something went wrong</h1>" in response.content


def test_team_lead_lands_on_its_unit_spend(client, team_lead, unit_tree):
    client.force_login(team_lead.user)
    response = client.get("/")
    assert (
        response["Location"]
        == f"/o/{team_lead.organization.slug}/units/{unit_tree['eu'].pk}/spend/"
    )
    assert client.get(response["Location"]).status_code == 200
