"""Absorb once, then enforce: a key's unattributed spend is absorbed in its first month and
flagged after; shown on the readiness page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from chargeback.calendar import Period
from chargeback.pricing.books import import_prices, parse_prices
from chargeback.reconciliation.absorb import (
    ABSORBED,
    FLAGGED,
    flagged_keys,
    status,
    unmapped_keys,
)
from chargeback.reconciliation.thresholds import Thresholds, save_thresholds
from chargeback.tenancy.models import Role
from chargeback.tenancy.scoping import within
from tests.conftest import _member
from tests.reconciliation.conftest import FLAT
from tests.usage.conftest import event, ingest

D = Decimal


def test_status_absorbs_the_first_month_and_flags_after_the_grace():
    sep, oct_, jan = dt.date(2026, 9, 1), dt.date(2026, 10, 1), dt.date(2027, 1, 1)
    assert status(sep, sep) == ABSORBED and status(sep, oct_) == FLAGGED
    assert status(sep, oct_, grace_months=2) == ABSORBED and status(sep, jan, 2) == FLAGGED
    assert status(oct_, jan, grace_months=0) == FLAGGED and status(oct_, oct_, 0) == ABSORBED


def _flat(rid: str, when: str, tokens: int, **kw) -> dict:
    fields = {"occurred_at": when, "provider": "internal", "model": "flat", **kw}
    return event(rid, input_tokens=tokens, output_tokens=0, **fields)


@pytest.fixture
def keyed(priced_org):
    with within(priced_org):
        import_prices(priced_org, parse_prices(FLAT), actor="test", label="flat")
    batch = ingest(priced_org, [
        _flat("n-1", "2026-09-10T10:00:00Z", 1_000_000, gateway_key_id="gk-new"),
        _flat("n-2", "2026-10-05T10:00:00Z", 2_000_000, gateway_key_id="gk-new"),
        _flat("n-3", "2026-10-07T10:00:00Z", 1_000_000, gateway_key_id="gk-new",
              tags={"team": "SUP"}),  # attributed by its tag: not absorbed
        _flat("f-1", "2026-10-06T10:00:00Z", 1_000_000, gateway_key_id="gk-fresh"),
        _flat("s-1", "2026-10-06T10:00:00Z", 1_000_000, gateway_key_id="gk-sales"),
        _flat("x-1", "2026-10-06T10:00:00Z", 5_000_000),  # central, but from no key
    ])  # fmt: skip
    assert (batch.accepted, batch.quarantined) == (6, 0)
    return priced_org


def test_a_key_is_absorbed_in_its_first_month_then_flagged(keyed):
    with within(keyed):
        sep = unmapped_keys(keyed, Period.parse("2026-09"))
        oct_ = unmapped_keys(keyed, Period.parse("2026-10"))
        flagged = flagged_keys(keyed, Period.parse("2026-10"))
    assert [(k.key_id, k.status, k.cost, k.requests) for k in sep] == [
        ("gk-new", ABSORBED, D("1.00"), 1)
    ]
    assert [(k.key_id, k.first_month.label, k.status, k.cost) for k in oct_] == [
        ("gk-new", "2026-09", FLAGGED, D("2.00")),
        ("gk-fresh", "2026-10", ABSORBED, D("1.00")),
    ]
    assert flagged == {"gk-new"}


def test_the_readiness_page_shows_both_steps(keyed, client):
    client.force_login(_member(keyed, Role.FINANCE, "fin@alpha.example").user)
    url = reverse("reconciliation:readiness", kwargs={"org_slug": keyed.slug})
    html = client.get(url + "?period=2026-10").content.decode()
    assert '<tr data-key="gk-new"><td><code>gk-new</code></td><td>2026-09</td>' in html
    assert "flagged: map it to a unit" in html and "absorbed by central (first month)" in html
    assert html.index('data-key="gk-new"') < html.index('data-key="gk-fresh"')
    html = client.get(url + "?period=2026-08").content.decode()
    assert 'data-key="gk-' not in html


def test_authorize_refuses_a_flagged_key_even_in_observe_mode(keyed, client):
    """The gateway's authorize asks about a key it does not know: in its grace period the
    request is allowed in observe mode (would deny: unknown key); once flagged it is refused."""
    from chargeback.gateway.decide import Request, authorize  # noqa: PLC0415 (a higher layer)
    from chargeback.gateway.models import Enforcement  # noqa: PLC0415 (a higher layer)

    with within(keyed):
        Enforcement.objects.create(organization=keyed, mode="observe")
        october = dt.datetime(2026, 10, 20, 12, tzinfo=dt.UTC)
        answers = {
            key: authorize(organization=keyed, now=october, request=Request(
                gateway_key_id=key, request_id=f"r-{key}", estimated_cost=D("0.10")))
            for key in ("gk-new", "gk-fresh", "gk-never-seen")
        }  # fmt: skip
        september = dt.datetime(2026, 9, 20, 12, tzinfo=dt.UTC)
        in_grace = authorize(organization=keyed, now=september, request=Request(
            gateway_key_id="gk-new", request_id="r-sep", estimated_cost=D("0.10")))  # fmt: skip
    outcome = {k: (a.allowed, a.reason) for k, a in answers.items()}
    assert outcome == {
        "gk-new": (False, "unknown_key"),  # flagged: its spend fell back since September
        "gk-fresh": (True, "unknown_key"),  # absorbed: first seen in October
        "gk-never-seen": (True, "unknown_key"),  # no spend yet: observe mode allows
    }
    assert (in_grace.allowed, in_grace.reason) == (True, "unknown_key")


def test_the_organisation_s_grace_period_decides_the_flag(keyed, client):
    with within(keyed):
        save_thresholds(keyed, Thresholds(absorb_grace_months=2), actor="test")
        assert flagged_keys(keyed, Period.parse("2026-10")) == set()  # gk-new's second month
        assert [k.status for k in unmapped_keys(keyed, Period.parse("2026-10"))] == [ABSORBED] * 2
    client.force_login(_member(keyed, Role.FINANCE, "fin@alpha.example").user)
    url = reverse("reconciliation:readiness", kwargs={"org_slug": keyed.slug})
    html = client.get(url + "?period=2026-10").content.decode()
    assert "flagged: map it to a unit" not in html
    assert "absorbed by central (grace period)" in html and "and the 1 after" in html
