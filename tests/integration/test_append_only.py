"""On PostgreSQL a trigger blocks UPDATE and DELETE of audit rows, even through raw SQL."""

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from chargeback.audit.log import record
from chargeback.tenancy.scoping import within

pytestmark = pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="the append-only trigger exists on PostgreSQL only (code guards cover SQLite)",
)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql", ["UPDATE audit_auditevent SET action = 'x'", "DELETE FROM audit_auditevent"]
)
def test_raw_sql_cannot_change_audit_rows(org_a, sql):
    with within(org_a):
        event = record(organization=org_a, actor="test", action="thing.done", object_repr="thing")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    event.refresh_from_db()
    assert event.action == "thing.done"
