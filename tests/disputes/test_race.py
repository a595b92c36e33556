"""Two finance users resolve the same dispute at the same moment, on PostgreSQL (real row
locks): one wins, the other is told the state the dispute is now in, and nothing is doubled."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import connection

from chargeback.disputes import operations as ops
from chargeback.disputes.models import Dispute, DisputeEvent
from chargeback.tenancy.models import Membership
from chargeback.tenancy.scoping import within
from tests.disputes.conftest import ISSUED_ON

pytestmark = [
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="row locks need PostgreSQL",
    ),
    pytest.mark.django_db(transaction=True),
]


def test_two_resolutions_at_once_one_wins(issued, statements, people):
    with within(issued):
        d = ops.open_dispute(
            membership=people["sup_lead"], statement=statements["SUP"], amount="1.00",
            reason="pricing", description="wrong price", today=ISSUED_ON,
        )  # fmt: skip
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def resolve(who: str, outcome: str) -> None:
        try:
            with within(issued):
                member = Membership.objects.select_related("user", "organization").get(
                    pk=people[who].pk
                )
                stale = Dispute.objects.get(pk=d.pk)
                barrier.wait()
                done = ops.resolve(membership=member, dispute=stale, outcome=outcome,
                                   text="decided", today=ISSUED_ON)  # fmt: skip
                results[who] = done.state
        except ops.DisputeError as exc:
            results[who] = str(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=resolve, args=("finance", "accepted")),
        threading.Thread(target=resolve, args=("finance2", "rejected")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with within(issued):
        final = Dispute.objects.get(pk=d.pk)
        won = [w for w, r in results.items() if r == final.state]
        lost = [r for w, r in results.items() if w not in won]
        assert len(won) == 1 and len(lost) == 1, results
        assert (
            lost[0].startswith("cannot ")
            and f"it is {final.get_state_display().lower()}" in lost[0]
        )
        assert DisputeEvent.objects.filter(dispute=d, action__in=("accept", "reject")).count() == 1
