"""POST /api/v1/authorize, /settle and /release through the test client (DESIGN 6.4)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django_scopes import scopes_disabled

from chargeback.budgets.setting import set_budget
from chargeback.gateway.models import Decision
from chargeback.tenancy.scoping import within
from chargeback.usage.keys import create_key
from chargeback.usage.rollup import write_rollup
from chargeback.wallets.models import Reservation, Wallet
from tests import factories as f
from tests.gateway.conftest import set_mode

pytestmark = pytest.mark.django_db


def ask(call, request_id="r1", cost="1.25", key="gk-sup", **more):
    body = {"gateway_key_id": key, "request_id": request_id, **more}
    if cost is not None:
        body["estimated_cost"] = cost
    return call("authorize", body)


def test_allow_holds_the_estimate(call, gw):
    status, body = ask(call)
    assert status == 200
    with within(gw["org"]):
        reservation = Reservation.objects.get()
    assert body == {
        "decision": "allow",
        "reason": None,
        "reservation_id": reservation.pk,
        "reserved": "1.25",
        "wallet_available": "8.75",
        "budget_remaining": None,
        "mode": "enforce",
    }


def test_tokens_are_priced_with_the_price_in_force(call, gw):
    status, body = ask(call, cost=None, provider="openai", model="gpt-4o-2024-08-06",
                       input_tokens=200_000, max_output_tokens=50_000)  # fmt: skip
    # 0.2M x 2.50 + 0.05M x 10.00 = 0.50 + 0.50
    assert (status, body["decision"], body["reserved"]) == (200, "allow", "1.00")
    with within(gw["org"]):
        assert Decision.objects.get().model == "gpt-4o"


def test_an_unpriced_model_or_missing_cost_is_a_400_naming_the_field(call, gw):
    status, body = ask(call, cost=None, provider="openai", model="no-such-model",
                       input_tokens=1, max_output_tokens=1)  # fmt: skip
    assert status == 400 and "model" in body
    status, body = ask(call, cost=None)
    assert status == 400 and "estimated_cost" in body
    status, body = ask(call, cost=None, provider="openai", model="gpt-4o", input_tokens=5)
    assert status == 400 and "max_output_tokens" in body
    status, body = ask(call, cost="-1")
    assert status == 400 and "estimated_cost" in body
    with within(gw["org"]):
        assert Decision.objects.count() == 0


def test_same_request_id_same_answer_and_one_reservation(call, gw):
    first = ask(call, request_id="same")
    again = ask(call, request_id="same", cost="5.00")
    assert first == again
    with within(gw["org"]):
        assert Reservation.objects.count() == 1
        assert Wallet.objects.get(pk=gw["wallet"].pk).reserved == Decimal("1.25")


def test_wallet_exhausted_and_a_repeated_deny_answers_the_same(call, gw):
    status, body = ask(call, request_id="big", cost="10.01")
    assert (status, body["decision"], body["reason"]) == (200, "deny", "wallet_exhausted")
    assert body["reservation_id"] is None and body["wallet_available"] == "10.00"
    ask(call, request_id="small", cost="0.01")  # the wallet changes meanwhile
    assert ask(call, request_id="big", cost="0.01") == (200, body)


def test_unknown_key_is_a_deny_not_an_error(call, gw):
    status, body = ask(call, key="gk-nobody", cost=None, provider="x", model="y")
    assert (status, body["decision"], body["reason"]) == (200, "deny", "unknown_key")


def test_archived_unit(call, gw):
    with scopes_disabled():
        type(gw["unit"]).objects.filter(pk=gw["unit"].pk).update(archived=True)
    status, body = ask(call)
    assert (body["decision"], body["reason"]) == ("deny", "archived_unit")


def test_model_not_approved_until_an_admin_approves_it(call, gw, admin, client_for):
    set_mode(gw["org"], "enforce", threshold=Decimal("1.00"))
    tokens = {"cost": None, "provider": "openai", "input_tokens": 1000, "max_output_tokens": 10}
    _, body = ask(call, request_id="a", model="gpt-4o", **tokens)
    assert (body["decision"], body["reason"]) == ("deny", "model_not_approved")
    _, body = ask(call, request_id="b", model="gpt-4o-mini", **tokens)  # below the threshold
    assert body["decision"] == "allow"
    client = client_for(admin)
    response = client.post(
        "/o/alpha/gateway/approvals/",
        {"unit": gw["unit"].pk, "provider": "openai", "model": "gpt-4o"},
    )
    assert response.status_code == 302
    _, body = ask(call, request_id="c", model="gpt-4o", **tokens)
    assert body["decision"] == "allow"


def test_a_staging_key_needs_no_approval(call, gw):
    set_mode(gw["org"], "enforce", threshold=Decimal("1.00"))
    with scopes_disabled():
        f.GatewayKeyFactory(organization=gw["org"], key_id="gk-stg", unit=gw["unit"],
                            environment="staging")  # fmt: skip
    _, body = ask(call, key="gk-stg", cost=None, provider="openai", model="gpt-4o",
                  input_tokens=10, max_output_tokens=10)  # fmt: skip
    assert body["decision"] == "allow"


def _spend(org, unit, amount: str) -> None:
    """Usage as ingestion rolls it up (by day and by month)."""
    today = dt.datetime.now(org.tz).date()
    dims = (org.pk, today, unit.pk, "", "openai", "gpt-4o", "production", "gateway_key")
    with scopes_disabled():
        write_rollup({dims: [1, 0, 0, 0, 0, Decimal(amount), Decimal(0), 0]})


def test_budget_hard_limit_counts_spend_and_open_reservations(call, gw):
    with within(gw["org"]):
        set_budget(organization=gw["org"], unit=gw["unit"], amount="5.00", hard=True, actor="t")
    _spend(gw["org"], gw["unit"], "2.00")
    _, body = ask(call, request_id="a", cost="2.00")
    assert (body["decision"], body["budget_remaining"]) == ("allow", "1.00")
    _, body = ask(call, request_id="b", cost="1.01")
    assert (body["decision"], body["reason"], body["budget_remaining"]) == (
        "deny", "budget_hard_limit", "1.00",
    )  # fmt: skip
    _, body = ask(call, request_id="c", cost="1.00")
    assert body["decision"] == "allow"


def test_a_soft_budget_reports_but_never_denies(call, gw):
    with within(gw["org"]):
        set_budget(organization=gw["org"], unit=gw["unit"], amount="1.00", hard=False, actor="t")
    _, body = ask(call, cost="2.00")
    assert (body["decision"], body["budget_remaining"]) == ("allow", "-1.00")


def test_observe_allows_and_records_what_it_would_deny(call, gw):
    set_mode(gw["org"], "observe")
    _, body = ask(call, request_id="big", cost="50.00")
    assert (body["decision"], body["reason"], body["mode"]) == (
        "allow",
        "wallet_exhausted",
        "observe",
    )
    assert body["reservation_id"] is None
    _, body = ask(call, request_id="ok", cost="1.00")
    assert (body["decision"], body["reason"], body["reserved"]) == ("allow", None, "1.00")
    with within(gw["org"]):
        assert [d.outcome for d in Decision.objects.order_by("id")] == ["would deny", "allowed"]


def test_off_allows_and_records_nothing(call, gw):
    set_mode(gw["org"], "off")
    _, body = ask(call, key="gk-nobody", cost="99.00")
    assert body == {"decision": "allow", "reason": None, "reservation_id": None, "reserved": None,
                    "wallet_available": None, "budget_remaining": None, "mode": "off"}  # fmt: skip
    with within(gw["org"]):
        assert (Decision.objects.count(), Reservation.objects.count()) == (0, 0)


def test_settle_posts_at_most_the_hold_and_answers_the_first_result_again(call, gw):
    _, body = ask(call, cost="2.00")
    rid = body["reservation_id"]
    first = call("settle", {"reservation_id": rid, "actual_cost": "1.40"})
    assert first == (200, {"reservation_id": rid, "state": "posted", "posted": "1.40",
                           "released": "0.60"})  # fmt: skip
    assert call("settle", {"reservation_id": rid, "actual_cost": "9.99"}) == first
    with within(gw["org"]):
        w = Wallet.objects.get(pk=gw["wallet"].pk)
        assert (w.balance, w.reserved) == (Decimal("8.60"), Decimal(0))


def test_release_voids_then_settle_is_a_404(call, gw):
    _, body = ask(call, cost="2.00")
    rid = body["reservation_id"]
    done = call("release", {"reservation_id": rid})
    assert done == (200, {"reservation_id": rid, "state": "voided", "posted": "0.00",
                          "released": "2.00"})  # fmt: skip
    assert call("release", {"reservation_id": rid}) == done
    status, _ = call("settle", {"reservation_id": rid, "actual_cost": "1.00"})
    assert status == 404


def test_release_of_a_settled_reservation_is_a_409(call, gw):
    _, body = ask(call, cost="2.00")
    call("settle", {"reservation_id": body["reservation_id"], "actual_cost": "1.00"})
    status, _ = call("release", {"reservation_id": body["reservation_id"]})
    assert status == 409


def test_another_organisations_reservation_is_a_404_and_untouched(call, gw, org_b):
    _, body = ask(call, cost="2.00")
    rid = body["reservation_id"]
    with within(org_b):
        foreign = create_key(organization=org_b, name="bravo", actor="test")[1]
    assert call("settle", {"reservation_id": rid, "actual_cost": "1"}, secret=foreign)[0] == 404
    assert call("release", {"reservation_id": rid}, secret=foreign)[0] == 404
    assert call("settle", {"reservation_id": 999999, "actual_cost": "1"})[0] == 404
    with within(gw["org"]):
        assert Reservation.objects.get(pk=rid).state == "pending"


def test_a_key_of_another_organisation_sees_its_own_keys_only(call, gw, org_b):
    with within(org_b):
        foreign = create_key(organization=org_b, name="bravo", actor="test")[1]
    set_mode(org_b, "enforce")
    status, body = call("authorize", {"gateway_key_id": "gk-sup", "request_id": "x",
                                      "estimated_cost": "1"}, secret=foreign)  # fmt: skip
    assert (status, body["reason"]) == (200, "unknown_key")


def test_no_key_is_a_401(client, gw):
    response = client.post("/api/v1/authorize", "{}", content_type="application/json")
    assert response.status_code == 401


def test_settle_bad_cost_is_a_400_naming_it(call, gw):
    _, body = ask(call)
    status, body = call("settle", {"reservation_id": body["reservation_id"], "actual_cost": "x"})
    assert status == 400 and "actual_cost" in body


def test_a_cost_sent_as_a_json_number_is_read_to_the_ledgers_precision(call, gw):
    """Schemathesis found 1e-30 refused as "more than 24 digits": a JSON number is rounded to
    the field's 12 places (a cost below that is nothing), and 0.1 is exactly 0.10."""
    _, body = ask(call, cost="2.00")
    done = call("settle", {"reservation_id": body["reservation_id"], "actual_cost": 1e-30})
    assert done == (200, {"reservation_id": body["reservation_id"], "state": "posted",
                          "posted": "0.00", "released": "2.00"})  # fmt: skip
    _, body = ask(call, cost="2.00", request_id="second")
    done = call("settle", {"reservation_id": body["reservation_id"], "actual_cost": 0.1})
    assert done[1]["posted"] == "0.10"


def test_a_cost_far_above_the_maximum_is_a_400_naming_it_not_a_500(call, gw):
    """Schemathesis sent 6.9e298: rounding it to 12 places overflowed Decimal's context."""
    status, body = ask(call, cost=6.896767739707628e298)
    assert status == 400 and "estimated_cost" in body
    _, held = ask(call, cost="2.00", request_id="held")
    status, body = call("settle", {"reservation_id": held["reservation_id"], "actual_cost": 1e300})
    assert status == 400 and "actual_cost" in body


def test_a_new_price_version_is_used_at_once(call, gw):
    """The price look-up is remembered per price book version: a new version (or alias) is
    read by the next request."""
    from chargeback.pricing.books import import_prices, parse_prices  # noqa: PLC0415
    from tests.gateway.conftest import HEADER  # noqa: PLC0415

    tokens = {"provider": "openai", "model": "gpt-4o", "input_tokens": 1_000_000,
              "max_output_tokens": 0}  # fmt: skip
    assert ask(call, request_id="p1", cost=None, **tokens)[1]["reserved"] == "2.50"
    assert ask(call, request_id="p2", cost=None, **tokens)[1]["reserved"] == "2.50"
    with within(gw["org"]):
        import_prices(gw["org"], parse_prices(
            HEADER + "openai,gpt-4o,2026-02-01,3.00,10.00,,,,,,USD,test,2026-02-01\n"
        ), actor="test", label="dearer")  # fmt: skip
    assert ask(call, request_id="p3", cost=None, **tokens)[1]["reserved"] == "3.00"
    with within(gw["org"]):
        from chargeback.pricing.books import add_alias  # noqa: PLC0415

        add_alias(organization=gw["org"], provider="openai", raw="house-model",
                  canonical_provider="openai", canonical_model="gpt-4o-mini", actor="test")  # fmt: skip
    house = {**tokens, "model": "house-model"}
    assert ask(call, request_id="p4", cost=None, **house)[1]["reserved"] == "0.15"
