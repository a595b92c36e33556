"""POST /api/v1/outcomes: ingestion-key auth, all-or-nothing with every problem named by
record index and field, and a new count replaces the stored one (never adds to it)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django_scopes import scopes_disabled

from chargeback.audit.models import AuditEvent
from chargeback.billing.models import BillingPeriod, OutcomeCount
from chargeback.tenancy.scoping import within
from chargeback.usage.keys import create_key, revoke_key

URL = "/api/v1/outcomes"


@pytest.fixture
def key(priced_org, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC), tick=False)
    with within(priced_org):
        return create_key(organization=priced_org, name="ticketing", actor="test")


def post(client, secret, body, content_type="application/json"):
    if not isinstance(body, str | bytes):
        body = json.dumps(body)
    return client.generic(
        "POST", URL, body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {secret}"
    )


def counts(org) -> dict:
    with within(org):
        return {
            (c.unit.code, f"{c.month:%Y-%m}", c.outcome): c.count
            for c in OutcomeCount.objects.filter(organization=org).select_related("unit")
        }


def rec(unit="SUP", month="2026-10", outcome="resolved_ticket", count=120):
    return {"unit": unit, "month": month, "outcome": outcome, "count": count}


def test_post_creates_then_a_repost_replaces_the_count(client, key, priced_org):
    _key, secret = key
    response = post(client, secret, [rec(), rec(unit="SALES", outcome="draft", count=7)])
    assert (response.status_code, response.json()) == (
        200,
        {"created": 2, "updated": 0, "unchanged": 0},
    )
    response = post(client, secret, [rec(count=150), rec(unit="SALES", outcome="draft", count=7)])
    assert response.json() == {"created": 0, "updated": 1, "unchanged": 1}
    assert counts(priced_org) == {
        ("SUP", "2026-10", "resolved_ticket"): 150,  # replaced, not 270
        ("SALES", "2026-10", "draft"): 7,
    }
    # A single object is accepted too.
    assert post(client, secret, rec(count=0)).json() == {"created": 0, "updated": 1, "unchanged": 0}
    assert counts(priced_org)[("SUP", "2026-10", "resolved_ticket")] == 0


def test_every_import_is_audited(client, key, priced_org):
    _key, secret = key
    post(client, secret, [rec()])
    post(client, secret, [rec(count=130)])
    with within(priced_org):
        events = AuditEvent.objects.filter(organization=priced_org, action="outcomes.imported")
        assert [
            (e.actor_label, e.after["created"], e.after["updated"]) for e in events.order_by("id")
        ] == [
            ("key:ticketing", 1, 0),
            ("key:ticketing", 0, 1),
        ]
        last = events.order_by("id").last()
        assert last.before == {"SUP 2026-10 resolved_ticket": 120}
        assert last.after["counts"] == {"SUP 2026-10 resolved_ticket": 130}


def test_bad_records_are_all_reported_and_nothing_is_written(client, key, priced_org, org_b):
    _key, secret = key
    with within(priced_org):
        BillingPeriod.objects.create(organization=priced_org, month="2026-09-01", state="in_review")
    body = [
        rec(),  # fine, but not written: the post is all or nothing
        rec(unit="BSECRET"),  # another organisation's unit
        rec(month="2026-9"),
        rec(month="2099-01"),
        rec(month="2026-09"),
        rec(outcome="Resolved Ticket"),
        rec(count=-1),
        rec(count=1.5),
        rec(count=True),
        {"unit": "SUP", "month": "2026-10", "outcome": "x", "count": 1, "extra": 1},
        {"unit": "SUP"},
        "not an object",
        rec(),  # the same key twice
    ]
    response = post(client, secret, body)
    assert response.status_code == 400
    assert response.json() == {
        "detail": "14 problems: nothing was written.",
        "errors": [
            {"index": 1, "field": "unit", "message": 'unknown unit "BSECRET"'},
            {"index": 2, "field": "month", "message": '"2026-9" is not a month (YYYY-MM)'},
            {"index": 3, "field": "month", "message": "2099-01 is in the future"},
            {
                "index": 4,
                "field": "month",
                "message": "2026-09 is already issued: its statements are immutable, so its "
                "outcome counts can no longer change",
            },
            {
                "index": 5,
                "field": "outcome",
                "message": '"Resolved Ticket" must be lower-case letters, digits and _ '
                "(at most 100 characters)",
            },
            {"index": 6, "field": "count", "message": "-1 must not be negative"},
            {
                "index": 7,
                "field": "count",
                "message": 'must be a whole number of 0 or more, not "1.5"',
            },
            {
                "index": 8,
                "field": "count",
                "message": "must be a whole number of 0 or more, not true",
            },
            {
                "index": 9,
                "field": "extra",
                "message": "unknown field (allowed: unit, month, outcome, count)",
            },
            {"index": 10, "field": "month", "message": "required, a month such as 2026-10"},
            {
                "index": 10,
                "field": "outcome",
                "message": "required, a name such as resolved_ticket",
            },
            {"index": 10, "field": "count", "message": "required, a whole number of 0 or more"},
            {
                "index": 11,
                "field": None,
                "message": 'must be an object with unit, month, outcome, count, not "not an object"',
            },
            {
                "index": 12,
                "field": None,
                "message": "a second count for SUP 2026-10 resolved_ticket (first at 0)",
            },
        ],
    }
    assert counts(priced_org) == {}
    with scopes_disabled():  # no organisation at all recorded an import
        assert not AuditEvent.objects.filter(action="outcomes.imported").exists()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "detail"),
    [
        (
            '[{"unit":',
            "application/json",
            400,
            "Malformed JSON at line 1, column 10: Expecting value.",
        ),
        ("[]", "application/json", 400, "1 problem: nothing was written."),
        ("42", "application/json", 400, "Expected a JSON object or an array of objects."),
        (b"[\xff]", "application/json", 400, "The body is not UTF-8 (invalid byte at offset 1)."),
        (
            "unit,month\n",
            "text/csv",
            415,
            'Content-Type "text/csv" is not supported: use application/json.',
        ),
    ],
)
def test_bad_bodies(client, key, body, content_type, status, detail):
    _key, secret = key
    response = post(client, secret, body, content_type=content_type)
    assert (response.status_code, response.json()["detail"]) == (status, detail)


def test_an_ingestion_key_is_required(client, key, priced_org, admin, org_b):
    key_obj, secret = key
    assert client.post(URL, json.dumps([rec()]), content_type="application/json").status_code == 401
    assert post(client, "cbk_nothere_secret", [rec()]).status_code == 401
    # A signed-in user without a key is refused too: this endpoint takes keys only.
    client.force_login(admin.user)
    assert client.post(URL, json.dumps([rec()]), content_type="application/json").status_code == 401
    with within(priced_org):
        revoke_key(key=key_obj, actor="test")
    assert post(client, secret, [rec()]).status_code == 401
    # Org B's key writes to org B, where SUP does not exist.
    with within(org_b):
        _b, b_secret = create_key(organization=org_b, name="bravo", actor="test")
    response = post(client, b_secret, [rec()])
    assert response.json()["errors"] == [
        {"index": 0, "field": "unit", "message": 'unknown unit "SUP"'}
    ]
    assert counts(priced_org) == {}
