"""The navigation's Disputes item counts the open disputes: finance every one, a team lead
("My disputes") its units' only."""

from __future__ import annotations

import re

from chargeback.disputes import operations as ops
from chargeback.tenancy.scoping import within
from tests.disputes.conftest import ISSUED_ON


def _item(page: str) -> str:
    found = re.search(r'<a href="/o/[a-z]+/disputes/"[^>]*>(.*?)</a>', page)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip() if found else ""


def test_the_navigation_counts_open_disputes(issued, statements, people, client_for):
    with within(issued):
        for amount in ("1.00", "2.00"):
            ops.open_dispute(
                membership=people["sup_lead"], statement=statements["SUP"], amount=amount,
                reason="pricing", description="x", today=ISSUED_ON,
            )  # fmt: skip
        done = ops.open_dispute(
            membership=people["sales_lead"], statement=statements["SALES"], amount="1.00",
            reason="pricing", description="x", today=ISSUED_ON,
        )  # fmt: skip
        ops.withdraw(membership=people["sales_lead"], dispute=done, today=ISSUED_ON)
    url = f"/o/{issued.slug}/statements/"
    assert _item(client_for(people["finance"]).get(url).content.decode()) == "Disputes 2"
    assert _item(client_for(people["sup_lead"]).get(url).content.decode()) == "My disputes 2"
    assert _item(client_for(people["sales_lead"]).get(url).content.decode()) == "My disputes"
