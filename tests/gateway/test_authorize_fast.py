"""The lean authorize path: a bounded number of SQL statements per decision, and the answers
of the DRF path (which an Accept header that does not take JSON still goes through)."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chargeback.tenancy.scoping import within
from chargeback.wallets.models import Reservation

pytestmark = pytest.mark.django_db

BODY = {"gateway_key_id": "gk-sup", "request_id": "r1", "estimated_cost": "1.25"}


def post(client, secret, body, content_type="application/json"):
    return client.post("/api/v1/authorize", json.dumps(body), content_type=content_type,
                       HTTP_AUTHORIZATION=f"Bearer {secret}")  # fmt: skip


# On PostgreSQL the key check and the first read are plain prepared statements
# (chargeback.sql.fetch_one), which Django's query log does not see.
PLAIN = 2 if connection.vendor != "postgresql" else 0
DRF = "application/json; charset=iso-8859-1"  # not UTF-8: DRF's parser reads it


def test_an_allow_takes_at_most_eleven_statements(client, gw):
    # key check 1, first read 1, key 1, wallet (locked) 1, reservation + ledger entry + wallet
    # sums + audit event 4, decision 1, and the transaction's begin and end (a savepoint in a
    # test's transaction) 2; a first request writes the key's last use (once a minute)
    post(client, gw["secret"], {**BODY, "request_id": "r0"})
    with CaptureQueriesContext(connection) as captured:
        response = post(client, gw["secret"], BODY)
    assert response.json()["decision"] == "allow"
    assert len(captured.captured_queries) <= 9 + PLAIN, [q["sql"][:80] for q in captured]


def test_a_repeat_is_answered_from_the_first_read_alone(client, gw):
    first = post(client, gw["secret"], BODY).json()
    assert first["decision"] == "allow"
    with CaptureQueriesContext(connection) as captured:
        again = post(client, gw["secret"], BODY).json()
    assert again == first
    assert len(captured.captured_queries) == PLAIN  # the key check and the first read


@pytest.mark.parametrize(
    "body",
    [
        {**BODY, "estimated_cost": -1},
        {"gateway_key_id": 3, "request_id": "r2"},
        {"gateway_key_id": "gk-sup", "request_id": "r3"},
        {"gateway_key_id": "gk-none", "request_id": "r4", "estimated_cost": "1"},
    ],
    ids=["negative", "not-a-string", "no-cost", "unknown-key"],
)
def test_the_fast_path_answers_as_drf_does(client, gw, body):
    fast = post(client, gw["secret"], body)
    drf = post(client, gw["secret"], body, DRF)
    assert fast.status_code in (200, 400)
    assert (fast.status_code, fast.json()) == (drf.status_code, json.loads(drf.content))


def test_an_allow_answers_as_drf_does(client, gw):
    fast = post(client, gw["secret"], BODY).json()
    drf = post(client, gw["secret"], {**BODY, "request_id": "r9"}, DRF)
    drf = json.loads(drf.content)
    with within(gw["org"]):
        ids = sorted(Reservation.objects.values_list("pk", flat=True))
    assert [fast.pop("reservation_id"), drf.pop("reservation_id")] == ids
    assert fast == {**drf, "wallet_available": "8.75"}
    assert drf["wallet_available"] == "7.50"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared statements")
def test_the_hot_statements_are_prepared_on_the_connection(client, gw):
    # psycopg prepares a statement from its fifth run on a connection (DB_PREPARE_THRESHOLD;
    # Django's default leaves it off): PostgreSQL then neither parses nor plans it again.
    for n in range(6):
        assert post(client, gw["secret"], {**BODY, "request_id": f"p{n}"}).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    for table in ("budgets_budget", "wallets_reservation", "wallets_ledgerentry",
                  "audit_auditevent", "gateway_decision"):  # fmt: skip
        assert any(table in statement for statement in prepared), (table, prepared)
