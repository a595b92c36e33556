"""Browser hardening (issue 15, finding 10): a Content-Security-Policy that allows no inline
script or style (and the templates need none), a Permissions-Policy, `Cache-Control: no-store`
on what a signed-in user or an API key sees, an idle session timeout, and the API schema and
docs behind sign-in."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from chargeback.tenancy.scoping import within
from chargeback.usage.keys import create_key

TEMPLATES = Path(settings.BASE_DIR) / "templates"
# Rendered by WeasyPrint into a PDF, never served to a browser as HTML.
NOT_SERVED = {"billing/statement_pdf.html"}


def _csp(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return {d.split()[0]: d for d in (p.strip() for p in policy.split(";")) if d}


def test_a_signed_in_page_has_a_strict_policy_and_is_not_stored(client_for, admin):
    response = client_for(admin).get("/o/alpha/")
    assert response.status_code == 200
    csp = _csp(response)
    assert csp["script-src"] == "script-src 'self'"
    assert csp["style-src"] == f"style-src 'self' '{settings.PLOTLY_INLINE_STYLE}'"
    assert csp["object-src"] == "object-src 'none'"
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert "unsafe" not in response["Content-Security-Policy"]
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


@pytest.mark.parametrize("path", ["/o/alpha/", "/o/alpha/units/", "/o/alpha/prices/", "/"])
def test_pages_carry_no_inline_script_or_style(client_for, admin, unit_tree, path):
    response = client_for(admin).get(path, follow=True)
    page = response.content.decode()
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "<style" not in page
    assert not re.search(r"\sstyle=", page)
    assert not re.search(r"\son[a-z]+=", page)


def test_no_served_template_has_inline_script_style_or_handlers():
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        name = path.relative_to(TEMPLATES).as_posix()
        if name in NOT_SERVED:
            continue
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag:
                offenders.append(f"{name}: {tag}")
        if "<style" in text or re.search(r"\sstyle=", text) or re.search(r"\son[a-z]+=\"", text):
            offenders.append(f"{name}: inline style or event handler")
    assert offenders == []


def test_the_login_page_has_the_policy_too(client, db):
    response = client.get("/accounts/login/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["Permissions-Policy"]


def test_api_key_answers_are_not_stored(client, org_a):
    with within(org_a):
        _key, secret = create_key(organization=org_a, name="gateway", actor="test")
    response = client.get("/api/v1/ingest-batches/999", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 404
    assert "no-store" in response["Cache-Control"]


def test_a_session_ends_after_eight_idle_hours_and_use_keeps_it(admin, time_machine):
    assert settings.SESSION_IDLE_TIMEOUT == 8 * 3600
    start = dt.datetime(2026, 10, 20, 8, 0, tzinfo=dt.UTC)
    time_machine.move_to(start, tick=False)
    web = Client()
    web.force_login(admin.user)
    time_machine.move_to(start + dt.timedelta(hours=7, minutes=50), tick=False)
    assert web.get("/o/alpha/").status_code == 200  # active: the expiry moves on
    time_machine.move_to(start + dt.timedelta(hours=15, minutes=40), tick=False)
    assert web.get("/o/alpha/").status_code == 200  # 7 h 50 idle: still signed in
    time_machine.move_to(start + dt.timedelta(hours=23, minutes=41), tick=False)
    response = web.get("/o/alpha/")  # 8 h 1 min idle: signed out
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_api_schema_and_docs_need_a_sign_in(client, client_for, admin):
    assert client.get("/api/schema/").status_code in (401, 403)
    docs = client.get("/api/docs/")
    assert docs.status_code == 302 and docs["Location"].startswith("/accounts/login/")
    web = client_for(admin)
    assert web.get("/api/schema/").status_code == 200
    page = web.get("/api/docs/")
    assert page.status_code == 200
    text = page.content.decode()
    for tag in re.findall(r"<script\b[^>]*>", text):
        assert "src=" in tag, tag  # Swagger UI's set-up is a script file too (CSP)
