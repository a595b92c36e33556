"""chargeback.sql: plain statements, and PostgreSQL's pipeline mode for writes not waited for
(the gateway's authorization), on both databases."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from chargeback import sql
from chargeback.gateway.models import Decision
from chargeback.tenancy.scoping import within

pytestmark = pytest.mark.django_db
NEW = sql.Insert(Decision)


def decision(org, request_id: str) -> Decision:
    return Decision(organization=org, request_id=request_id, gateway_key_id="gk", mode="enforce",
                    allowed=True)  # fmt: skip


def test_writes_sent_in_a_pipeline_land_with_the_commit(org_a):
    with transaction.atomic(), sql.pipeline():
        first = NEW.save(decision(org_a, "a"))  # its id read back
        NEW.save(decision(org_a, "b"), wait=False)
        NEW.save(decision(org_a, "c"), wait=False)
    assert first.pk is not None
    with within(org_a):
        assert sorted(Decision.objects.values_list("request_id", flat=True)) == ["a", "b", "c"]


def test_an_error_in_a_write_not_waited_for_is_raised_and_rolls_it_all_back(org_a):
    """Inside the test's transaction (the block's atomic is a savepoint)."""
    _an_error_rolls_back(org_a)


@pytest.mark.django_db(transaction=True)
def test_an_error_in_a_write_not_waited_for_rolls_back_the_outermost_transaction(org_a):
    """With no transaction around it, as on the gateway's request (the atomic commits)."""
    _an_error_rolls_back(org_a)


def _an_error_rolls_back(org_a) -> None:
    NEW.save(decision(org_a, "taken"))
    with pytest.raises(IntegrityError), transaction.atomic(), sql.pipeline():
        NEW.save(decision(org_a, "new"), wait=False)
        NEW.save(decision(org_a, "taken"), wait=False)  # request ids are unique per organisation
    # the connection is usable, and nothing of the failed transaction was kept
    with within(org_a):
        assert list(Decision.objects.values_list("request_id", flat=True)) == ["taken"]
    assert sql.fetch_one("SELECT 1", []) == (1,)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's pipeline mode")
def test_the_pipeline_is_psycopgs_and_ends_with_the_block(org_a):
    with sql.pipeline():
        assert connection.connection._pipeline is not None
    assert connection.connection._pipeline is None
