"""Login throttling and lockout (issue 15, finding 5): failed logins are counted per account
and per address (django-axes); past the limit the right password is refused too, with a page
that says so, until the cool-off ends or a superuser unlocks it in the admin. The admin's own
login is behind the same lock."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse

from chargeback.tenancy.throttle import client_address
from tests import factories as f

EMAIL = "admin@alpha.example"


def _login(web: Client, password: str, username: str = EMAIL, **extra):
    return web.post(reverse("login"), {"username": username, "password": password}, **extra)


def _signed_in(web: Client) -> bool:
    return web.get("/").status_code != 302 or "/accounts/login/" not in web.get("/")["Location"]


def test_the_limits_are_five_failures_and_fifteen_minutes():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert dt.timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]


def test_thirty_wrong_passwords_then_the_right_one_is_refused_while_locked(admin, time_machine):
    time_machine.move_to(dt.datetime(2026, 10, 20, 9, 0, tzinfo=dt.UTC), tick=False)
    web = Client()
    answers = [_login(web, f"wrong-{i}").status_code for i in range(30)]
    assert answers[:4] == [200] * 4  # the form again, with its error
    assert set(answers[5:]) == {429}
    locked = _login(web, f.PASSWORD)
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Too many failed logins" in page
    assert "After 5 failed login attempts" in page and "locked for 15 minutes" in page
    assert not _signed_in(web)
    # From another address, the account is locked all the same.
    other = Client(REMOTE_ADDR="198.51.100.7")
    assert _login(other, f.PASSWORD).status_code == 429
    # Every attempt while locked starts the wait again; 15 minutes of quiet end it.
    time_machine.move_to(dt.datetime(2026, 10, 20, 9, 16, tzinfo=dt.UTC), tick=False)
    response = _login(web, f.PASSWORD)
    assert response.status_code == 302
    assert _signed_in(web)


def test_one_address_trying_many_accounts_is_locked_out(admin, finance, viewer):
    web = Client(REMOTE_ADDR="203.0.113.5")
    for i in range(5):
        _login(web, "wrong", username=f"nobody{i}@alpha.example")
    assert _login(web, f.PASSWORD, username="viewer@alpha.example").status_code == 429
    elsewhere = Client(REMOTE_ADDR="203.0.113.6")
    assert _login(elsewhere, f.PASSWORD, username="viewer@alpha.example").status_code == 302


def test_the_admin_login_is_behind_the_same_lock(db):
    root = f.UserFactory(username="root@example.com", is_staff=True, is_superuser=True)
    web = Client()
    for _ in range(5):
        web.post("/admin/login/", {"username": root.username, "password": "wrong"})
    locked = web.post("/admin/login/", {"username": root.username, "password": f.PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()


def test_a_superuser_unlocks_an_account_in_the_admin(admin):
    web = Client()
    for _ in range(6):
        _login(web, "wrong")
    assert _login(web, f.PASSWORD).status_code == 429
    attempt = AccessAttempt.objects.get(username=EMAIL)

    staff = f.UserFactory(username="staff@example.com", is_staff=True)
    clerk = Client()
    clerk.force_login(staff)
    assert clerk.get("/admin/axes/accessattempt/").status_code == 302  # superusers only

    root = f.UserFactory(username="root@example.com", is_staff=True, is_superuser=True)
    operator = Client()
    operator.force_login(root)
    listing = operator.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and EMAIL in listing.content.decode()
    deleted = operator.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert _login(web, f.PASSWORD).status_code == 302
    assert _signed_in(web)


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "6.6.6.6", "127.0.0.1"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the client's own header is ignored
        (1, "203.0.113.9", "203.0.113.9"),
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        (1, "", "127.0.0.1"),
    ],
)
def test_the_address_counted_is_the_one_the_trusted_proxy_saw(
    rf, settings, proxies, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = rf.post("/accounts/login/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected
