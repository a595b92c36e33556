"""An organisation with a metered October 2026 and the invoice that bills it.

Price internal/flat: input $1, output $4, cache read $0.50 per 1M tokens. Metered: SUP three
requests (1M input of which 0.2M cache reads, 0.1M output: $1.30 each), SALES 2M input ($2),
one failed request with 1M input ($1): $6.90. One record of an unpriced model (mystery-1, 1M
input) waits in the quarantine. The invoice bills $8.70: input 4.4M (not the failed request),
cache reads at $1/1M, the output, mystery-1 at $3/1M, and a $0.50 credit: a variance of $1.80
that the causes explain whole."""

from __future__ import annotations

import pytest

from chargeback.pricing.books import import_prices, parse_prices
from chargeback.tenancy.scoping import within
from tests.usage.conftest import HEADER, event, ingest

FLAT = HEADER + "internal,flat,2026-01-01,1,4,0.5,,,,,USD,test price,2026-01-01\n"
INVOICE = (
    "provider,model,token_class,quantity,amount,currency\n"
    "internal,flat,input,4400000,4.40,USD\n"
    "internal,flat,cached_input,600000,0.60,USD\n"
    "internal,flat,output,300000,1.20,USD\n"
    "internal,mystery-1,input,1000000,3.00,USD\n"
    "internal,,other,0,-0.50,USD\n"
)


def _flat(rid: str, day: str, **kw) -> dict:
    return event(rid, occurred_at=f"2026-10-{day}T10:00:00Z", provider="internal", model="flat",
                 **kw)  # fmt: skip


@pytest.fixture
def metered(priced_org):
    with within(priced_org):
        import_prices(priced_org, parse_prices(FLAT), actor="test", label="flat")
    events = [
        _flat(
            f"sup-{i}",
            "05",
            input_tokens=1_000_000,
            cached_input_tokens=200_000,
            output_tokens=100_000,
            tags={"team": "SUP"},
        )  # fmt: skip
        for i in range(3)
    ]
    events += [
        _flat("sal-1", "06", input_tokens=2_000_000, output_tokens=0, tags={"team": "SALES"}),
        _flat(
            "err-1",
            "06",
            input_tokens=1_000_000,
            output_tokens=0,
            status_code=500,
            tags={"team": "SALES"},
        ),  # fmt: skip
        event(
            "mys-1",
            occurred_at="2026-10-07T10:00:00Z",
            provider="internal",
            model="mystery-1",
            input_tokens=1_000_000,
            output_tokens=0,
        ),  # fmt: skip
    ]
    batch = ingest(priced_org, events)
    assert (batch.accepted, batch.quarantined) == (5, 1)
    return priced_org
