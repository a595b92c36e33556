"""The allocation policy pages: versions, one version laid out, the editor with its checks
(each PolicyError next to its field), the preview (equal to the drafts), saving (audited),
the lock on months with issued statements, roles and foreign ids."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from chargeback.allocation.models import AllocationPolicy
from chargeback.allocation.policy import Policy, parse_policy
from chargeback.audit.models import AuditEvent
from chargeback.billing.close import draft_statements
from chargeback.billing.models import BillingPeriod
from chargeback.billing.policy_versions import save_policy
from chargeback.calendar import Period
from chargeback.pricing.books import import_prices, parse_prices
from chargeback.provisioning.config import (
    ConfigError,
    apply_config,
    dump_config,
    export_config,
    parse_config,
    plan_config,
)
from chargeback.tenancy.scoping import within
from tests import factories as f
from tests.usage.conftest import HEADER, event, ingest

NOV = Period.parse("2026-11")
FLAT = HEADER + "internal,flat,2026-01-01,1,1,,,,,,USD,test price,2026-01-01\n"
TIERS = [
    {"name": "Experimental", "up_to_tokens": "10000000", "markup": "50"},
    {"name": "Standard", "up_to_tokens": "100000000", "markup": "20"},
    {"name": "Enterprise", "up_to_tokens": "", "markup": "10"},
]
POOL = {
    "name": "Gateway",
    "source": "manual",
    "amount": "90.00",
    "basis": "spend",
    "targets": "all",
    "weights": "",
}


@pytest.fixture
def now(time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC), tick=False)


@pytest.fixture
def org(priced_org, now):
    """Alpha with SUP, SALES, AGENT, OPS and CENTRAL; OLD is archived."""
    f.BusinessUnitFactory(organization=priced_org, code="OLD", name="Old", archived=True)
    return priced_org


def url(name: str, **kwargs) -> str:
    return reverse(f"allocation:{name}", kwargs={"org_slug": "alpha", **kwargs})


def form_data(
    month: str = "2026-12",
    *,
    tiers: list = TIERS,
    pools: list = (),
    rates: list = (),
    discounts: list = (),
    action: str = "save",
    **main: str,
) -> dict:
    data = {
        "action": action,
        "effective_from": month,
        "charge_basis": "token",
        "tier_mode": "volume",
        "fee_percent": "15",
        "fee_fixed": "0",
        "failed_requests": "owner",
        "central_baseline": "0",
        "allowance": "0",
        **main,
    }
    for key, rows in (
        ("tiers", tiers),
        ("pools", pools),
        ("activity_rates", rates),
        ("discounts", discounts),
    ):
        data |= {f"{key}-TOTAL_FORMS": str(len(rows)), f"{key}-INITIAL_FORMS": "0"}
        for i, row in enumerate(rows):
            data |= {f"{key}-{i}-{name}": value for name, value in row.items()}
    return data


def field_errors(response, key: str, index: int, field: str) -> list[str]:
    assert response.status_code == 200
    return response.context["editor"].formsets[key].forms[index].errors.get(field, [])


# Lists and detail ----------------------------------------------------------------------------


def test_empty_list_says_the_default_policy_is_in_force(client_for, finance, org):
    page = client_for(finance).get(url("policy-list")).content.decode()
    assert "No policy versions yet" in page
    assert "The default policy is in force" in page
    for text in ("Experimental", "10,000,000", "50%", "Standard", "20%", "Enterprise", "10%"):
        assert text in page


def test_list_marks_the_version_in_force(client_for, finance, org):
    with within(org):
        for month, fee in (("2026-09", "0.10"), ("2026-11", "0.15"), ("2027-01", "0.20")):
            save_policy(
                organization=org, policy=Policy(month, fee_percent=Decimal(fee)), actor="test"
            )
    response = client_for(finance).get(url("policy-list"))
    rows = [(r["version"].month, r["status"]) for r in response.context["rows"]]
    assert rows == [
        ("2027-01", "scheduled"),
        ("2026-11", "in force"),
        ("2026-09", "superseded"),
    ]
    assert "in force now" in response.content.decode()


def test_detail_lays_out_the_policy(client_for, finance, org):
    with within(org):
        version = save_policy(
            organization=org,
            policy=parse_policy(
                {
                    "effective_from": "2026-11",
                    "platform_fee": {"percent": "0.15", "fixed_per_unit": "25.00"},
                    "failed_requests": "platform",
                    "pools": [
                        {
                            "name": "Infra",
                            "source": "manual",
                            "amount": "1200.00",
                            "basis": "fixed",
                            "weights": {"SUP": "2", "SALES": "1"},
                        },
                        {
                            "name": "Summaries",
                            "source": "service:ticket-summarizer",
                            "basis": "requests",
                            "targets": ["SALES", "AGENT"],
                        },
                    ],
                    "hybrid": {"central_baseline_per_unit": "100.00"},
                    "activity_rates": [
                        {"unit": "SUP", "outcome": "resolved_ticket", "rate": "0.50"}
                    ],
                    "discounts": [
                        {
                            "name": "Committed use",
                            "amount": "500.00",
                            "basis": "model_spend",
                            "models": ["gpt-4o"],
                        }
                    ],
                    "experimental_allowance": {"per_unit": "50.00"},
                }  # fmt: skip
            ),
            actor="test",
        )
    page = client_for(finance).get(url("policy-detail", policy_id=version.pk)).content.decode()
    for text in (
        "Policy from November 2026",
        "15% of usage cost, plus $25.00 per unit and month",
        "Charged to the central (platform) bucket",
        "Infra",
        "$1,200.00",
        "SALES = 1, SUP = 2",
        "Spend of service <code>ticket-summarizer</code>",
        "<code>AGENT</code>, <code>SALES</code>",
        "pays each unit's first $100.00 a month",
        "<code>resolved_ticket</code>",
        "$0.50",
        "Committed use",
        "<code>gpt-4o</code>",
        "up to $50.00 a month",
    ):
        assert text in page, text
    assert "Edit" not in page  # finance may look, not edit


def test_list_queries_do_not_grow_with_versions(client_for, finance, org):
    client = client_for(finance)

    def queries(n: int) -> int:
        with within(org):
            AllocationPolicy.objects.all().delete()
            for i in range(n):
                save_policy(organization=org, policy=Policy(f"2026-{i + 1:02d}"), actor="test")
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("policy-list")).status_code == 200
        return len(ctx.captured_queries)

    assert queries(1) == queries(3)


# Roles and foreign ids -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["team_lead", "viewer", "finance"])
def test_who_may_open_what(client, org_a, role, request, now):
    membership = request.getfixturevalue(role)
    with within(org_a):
        version = save_policy(organization=org_a, policy=Policy("2026-11"), actor="test")
    client.force_login(membership.user)
    view = 200 if role == "finance" else 403
    assert client.get(url("policy-list")).status_code == view
    assert client.get(url("policy-detail", policy_id=version.pk)).status_code == view
    assert client.get(url("policy-create")).status_code == 403
    assert client.post(url("policy-create"), form_data()).status_code == 403
    assert client.get(url("policy-edit", policy_id=version.pk)).status_code == 403
    assert client.post(url("policy-edit", policy_id=version.pk), form_data()).status_code == 403
    with within(org_a):
        assert AllocationPolicy.objects.count() == 1


def test_foreign_versions_are_404(client_for, admin, org, org_b):
    with within(org_b):
        foreign = save_policy(organization=org_b, policy=Policy("2026-11"), actor="test")
    client = client_for(admin)
    assert client.get(url("policy-detail", policy_id=foreign.pk)).status_code == 404
    assert client.get(url("policy-edit", policy_id=foreign.pk)).status_code == 404
    assert client.post(url("policy-edit", policy_id=foreign.pk), form_data()).status_code == 404
    assert client.get(url("policy-create"), {"copy": foreign.pk}).status_code == 404
    assert client.get(reverse("allocation:policy-list", args=["bravo"])).status_code == 404


# Saving ------------------------------------------------------------------------------------


def test_admin_creates_a_version_and_it_round_trips_through_the_file(client_for, admin, org):
    client = client_for(admin)
    form = client.get(url("policy-create"))
    assert form.context["form"].initial["effective_from"] == "2026-11"  # this month: open, free
    data = form_data(
        "2026-11",
        pools=[POOL, {**POOL, "name": "Evals", "source": "service:ticket-summarizer",
                      "amount": "", "basis": "fixed", "targets": "", "weights": "SUP=2, SALES=1"}],
        rates=[{"unit": "SUP", "outcome": "resolved_ticket", "rate": "0.50"}],
        discounts=[{"name": "Committed", "amount": "10.00", "basis": "model_spend",
                    "models": "gpt-4o, flat"}],
        fee_fixed="5.00",
        central_baseline="1.00",
    )  # fmt: skip
    response = client.post(url("policy-create"), data, follow=True)
    with within(org):
        version = AllocationPolicy.objects.get(organization=org)
    assert response.redirect_chain[-1][0] == url("policy-detail", policy_id=version.pk)
    assert "The policy from 2026-11 was saved." in response.content.decode()
    policy = version.policy
    assert (policy.fee_percent, policy.fee_fixed, policy.central_baseline) == (
        Decimal("0.15"),
        Decimal("5.00"),
        Decimal("1.00"),
    )
    assert [t.up_to_tokens for t in policy.tiers] == [10_000_000, 100_000_000, None]
    assert policy.pools[1].weights == (("SALES", Decimal("1")), ("SUP", Decimal("2")))
    assert policy.discounts[0].models == ("flat", "gpt-4o")
    with within(org):
        event = AuditEvent.objects.get(organization=org, action="allocationpolicy.created")
    assert (event.actor, event.after["platform_fee"]["fixed_per_unit"]) == (admin.user, "5.00")
    # export -> import is a fixed point, in both formats
    with within(org):
        for fmt in ("yaml", "json"):
            plan = plan_config(org, parse_config(dump_config(export_config(org), fmt)))
            assert (plan.errors, plan.changes) == ([], [])


def test_edit_updates_the_version_and_unchanged_says_so(client_for, admin, org):
    with within(org):
        version = save_policy(organization=org, policy=Policy("2026-11"), actor="test")
    client = client_for(admin)
    page = client.get(url("policy-edit", policy_id=version.pk))
    assert page.context["form"].fields["effective_from"].disabled
    response = client.post(
        url("policy-edit", policy_id=version.pk),
        form_data("2030-01", tier_mode="graduated"),  # the month of a version cannot change
        follow=True,
    )
    version.refresh_from_db()
    assert (version.month, version.policy.tier_mode) == ("2026-11", "graduated")
    assert "The policy from 2026-11 was updated." in response.content.decode()
    again = client.post(
        url("policy-edit", policy_id=version.pk), form_data(tier_mode="graduated"), follow=True
    )
    assert "No changes: the policy from 2026-11 is as it was." in again.content.decode()
    with within(org):
        actions = AuditEvent.objects.filter(
            organization=org, object_type="allocation.allocationpolicy"
        )
    assert [e.action for e in actions.order_by("id")] == [
        "allocationpolicy.created",
        "allocationpolicy.updated",
    ]


def test_a_new_version_needs_its_own_month(client_for, admin, org):
    with within(org):
        save_policy(organization=org, policy=Policy("2026-12"), actor="test")
    response = client_for(admin).post(url("policy-create"), form_data("2026-12"))
    assert response.context["form"].errors["effective_from"] == [
        "policy.effective_from: a version from 2026-12 already exists: edit it instead, or pick "
        "another month"
    ]
    with within(org):
        assert AllocationPolicy.objects.count() == 1


def test_add_row_and_remove_row(client_for, admin, org):
    client = client_for(admin)
    added = client.post(url("policy-create"), form_data(action="add-pools", pools=[POOL]))
    assert len(added.context["editor"].formsets["pools"].forms) == 2
    with within(org):
        assert AllocationPolicy.objects.count() == 0
    removed = form_data(pools=[POOL, {**POOL, "name": "Gone", "amount": "x", "DELETE": "on"}])
    client.post(url("policy-create"), removed)
    with within(org):
        assert [p.name for p in AllocationPolicy.objects.get().policy.pools] == ["Gateway"]


# Validation ----------------------------------------------------------------------------------


def _tiers(*rows) -> list[dict]:
    return [{"name": n, "up_to_tokens": u, "markup": m} for n, u, m in rows]


@pytest.mark.parametrize(
    ("data", "key", "index", "field", "message"),
    [
        (  # overlapping
            form_data(tiers=_tiers(("A", "10000000", "50"), ("B", "5000000", "20"), ("C", "", "10"))),
            "tiers", 1, "up_to_tokens",
            "policy.tiers[1].up_to_tokens: 5000000 must be above the previous tier's 10000000",
        ),
        (  # a gap above the last tier
            form_data(tiers=_tiers(("A", "10,000,000", "50"), ("B", "100000000", "20"))),
            "tiers", 1, "up_to_tokens",
            "policy.tiers[1].up_to_tokens: the last tier must be open (null): tokens above it "
            "would have no tier",
        ),
        (
            form_data(tiers=_tiers(("A", "", "50"), ("B", "", "20"))),
            "tiers", 0, "up_to_tokens",
            "policy.tiers[0].up_to_tokens: only the last tier may be open (null)",
        ),
        (
            form_data(tiers=_tiers(("A", "10000000", "-50"), ("B", "", "20"))),
            "tiers", 0, "markup",
            'policy.tiers[0].markup: "-50" must not be negative',
        ),
        (
            form_data(pools=[{**POOL, "basis": "fixed", "targets": "", "weights": "SUP=0, SALES=0"}]),
            "pools", 0, "weights",
            "policy.pools[0].weights: the weights sum to zero",
        ),
        (
            form_data(pools=[{**POOL, "targets": "SUP, OLD"}]),
            "pools", 0, "targets",
            'policy.pools[0].targets[1]: unit "OLD" is archived',
        ),
        (
            form_data(pools=[{**POOL, "targets": "NOPE"}]),
            "pools", 0, "targets",
            'policy.pools[0].targets[0]: unknown unit "NOPE"',
        ),
        (
            form_data(pools=[{**POOL, "basis": "fixed", "targets": "", "weights": "SUP 2"}]),
            "pools", 0, "weights",
            'policy.pools[0].weights: "SUP 2" is not CODE=weight (write "SUP=2, SALES=1")',
        ),
        (
            form_data(pools=[{**POOL, "amount": ""}]),
            "pools", 0, "amount",
            "policy.pools[0].amount: required for a manual pool",
        ),
        (
            form_data(rates=[{"unit": "OLD", "outcome": "ticket", "rate": "0.50"}]),
            "activity_rates", 0, "unit",
            'policy.activity_rates[0].unit: unit "OLD" is archived',
        ),
        (
            form_data(discounts=[{"name": "D", "amount": "abc", "basis": "model_spend", "models": ""}]),
            "discounts", 0, "amount",
            'policy.discounts[0].amount: "abc" is not a decimal',
        ),
    ],
)  # fmt: skip
def test_each_invalid_policy_is_refused_with_its_field(
    client_for, admin, org, data, key, index, field, message
):
    response = client_for(admin).post(url("policy-create"), data)
    assert field_errors(response, key, index, field) == [message]
    assert message in response.context["editor"].errors
    assert f"<li><code>{escape(message)}" in response.content.decode()
    with within(org):
        assert AllocationPolicy.objects.count() == 0


def test_errors_land_on_the_row_shown_even_after_removed_rows(client_for, admin, org):
    tiers = [
        {"name": "junk", "up_to_tokens": "x", "markup": "x", "DELETE": "on"},
        {"name": "", "up_to_tokens": "", "markup": ""},  # left empty: ignored
        *_tiers(("A", "10000000", "50"), ("B", "", "-1")),
    ]
    response = client_for(admin).post(url("policy-create"), form_data(tiers=tiers))
    assert field_errors(response, "tiers", 3, "markup") == [
        'policy.tiers[1].markup: "-1" must not be negative'
    ]


@pytest.mark.parametrize(
    ("main", "field", "message"),
    [
        ({"fee_percent": "150"}, "fee_percent",
         'policy.platform_fee.percent: "150" is more than 100%'),
        ({"fee_fixed": "-1"}, "fee_fixed", 'policy.platform_fee.fixed_per_unit: "-1" must not be negative'),
        ({"central_baseline": "lots"}, "central_baseline",
         'policy.hybrid.central_baseline_per_unit: "lots" is not a decimal'),
        ({"allowance": "-5"}, "allowance", 'policy.experimental_allowance.per_unit: "-5" must not be negative'),
        ({"effective_from": "2026-13"}, "effective_from",
         'policy.effective_from: "2026-13" is not a month (YYYY-MM)'),
    ],
)  # fmt: skip
def test_settings_errors_are_next_to_their_field(client_for, admin, org, main, field, message):
    response = client_for(admin).post(url("policy-create"), form_data(**main))
    assert response.context["form"].errors[field] == [message]
    with within(org):
        assert AllocationPolicy.objects.count() == 0


def test_an_unknown_service_source_is_refused(client_for, admin, org):
    response = client_for(admin).post(
        url("policy-create"), form_data(pools=[{**POOL, "source": "service:nope", "amount": ""}])
    )
    assert field_errors(response, "pools", 0, "source") == [
        "service:nope is not manual, unallocated or service:<one of the organisation's services>"
    ]


# Issued months are locked ---------------------------------------------------------------------


def test_a_version_whose_months_are_issued_cannot_change(client_for, admin, org):
    with within(org):
        version = save_policy(organization=org, policy=Policy("2026-09"), actor="test")
        BillingPeriod.objects.create(organization=org, month="2026-10-01", state="in_review")
    reason = (
        "Statements for 2026-10 are already issued, so the policy in force from 2026-09 can no "
        "longer change: make a new version from 2026-11 (the next open month) instead."
    )
    client = client_for(admin)
    response = client.get(url("policy-edit", policy_id=version.pk), follow=True)
    assert response.redirect_chain[-1][0] == url("policy-detail", policy_id=version.pk)
    assert reason in response.content.decode()
    client.post(url("policy-edit", policy_id=version.pk), form_data(tier_mode="graduated"))
    version.refresh_from_db()
    assert version.policy.tier_mode == "volume"
    # A new version inside the issued months is refused too; the next open month is offered.
    early = client.post(url("policy-create"), form_data("2026-10"))
    assert early.context["form"].errors["effective_from"] == [
        "policy.effective_from: Statements for 2026-10 are already issued, so the policy in "
        "force from 2026-10 can no longer change: make a new version from 2026-11 (the next "
        "open month) instead."
    ]
    assert client.get(url("policy-create")).context["form"].initial["effective_from"] == "2026-11"
    client.post(url("policy-create"), form_data("2026-11"))
    with within(org):
        assert AllocationPolicy.objects.filter(effective_from="2026-11-01").exists()


def test_the_configuration_file_is_refused_for_issued_months_too(org, admin):
    with within(org):
        save_policy(organization=org, policy=Policy("2026-09"), actor="test")
        BillingPeriod.objects.create(organization=org, month="2026-10-01", state="closed")
        text = 'policy: {effective_from: "2026-09", tier_mode: graduated}\n'
        with pytest.raises(ConfigError) as exc:
            apply_config(org, parse_config(text), actor=admin.user)
        assert exc.value.errors == [
            "policy.effective_from: Statements for 2026-10 are already issued, so the policy in "
            "force from 2026-09 can no longer change: make a new version from 2026-11 (the next "
            "open month) instead."
        ]
        # Re-applying the stored policy unchanged is still a no-op.
        same = 'policy: {effective_from: "2026-09"}\n'
        assert apply_config(org, parse_config(same), actor=admin.user).changes == []


# Preview -----------------------------------------------------------------------------------


def _flat(rid: str, team: str, millions: int) -> list[dict]:
    """`millions` million tokens in November, in events of at most 50M tokens."""
    return [
        event(
            f"{rid}-{i}",
            occurred_at="2026-11-05T10:00:00Z",
            provider="internal",
            model="flat",
            input_tokens=min(50, millions - i) * 1_000_000,
            output_tokens=0,
            tags={"team": team} if team else {},
        )
        for i in range(0, millions, 50)
    ]


def test_preview_equals_the_drafts_under_each_policy(client_for, admin, org):
    with within(org):
        import_prices(org, parse_prices(FLAT), actor="test", label="flat")
        save_policy(
            organization=org,
            policy=parse_policy({"effective_from": "2026-10", "platform_fee": {"percent": "0.15"}}),
            actor="test",
        )
    ingest(
        org,
        _flat("s", "SUP", 5)
        + _flat("a", "SALES", 20)
        + _flat("g", "AGENT", 150)
        + _flat("u", "", 2),
    )
    proposed = form_data(
        "2026-12",
        tiers=_tiers(("Small", "50000000", "30"), ("Large", "", "5")),
        pools=[POOL, {**POOL, "name": "Leftovers", "source": "unallocated", "amount": "",
                      "basis": "tokens", "targets": "SUP, SALES"}],
        fee_fixed="2.00",
        fee_fixed_all="on",
        action="preview",
    )  # fmt: skip
    response = client_for(admin).post(url("policy-create"), proposed)
    preview = response.context["preview"]
    with within(org):
        assert AllocationPolicy.objects.count() == 1  # a preview saves nothing
    assert preview.period == NOV
    current = {r.code: r.current for r in preview.rows if r.current is not None}
    wanted = {r.code: r.proposed for r in preview.rows if r.proposed is not None}
    costs = {r.code: r.usage_cost for r in preview.rows}
    assert costs == {
        "AGENT": Decimal(150),
        "CENTRAL": Decimal(2),
        "OPS": Decimal(0),
        "SALES": Decimal(20),
        "SUP": Decimal(5),
    }
    assert "OPS" not in current and wanted["OPS"] == Decimal("2.00")  # the fixed fee
    with within(org):
        drafted = draft_statements(org, NOV)
        assert {s.unit.code: s.total for s in drafted.statements.all()} == current
        save_policy(
            organization=org,
            policy=parse_policy(
                {**AllocationPolicy.objects.get().document, "effective_from": "2026-10"}
            ),
            actor="test",
        )  # unchanged
    client_for(admin).post(
        url("policy-create"), {**proposed, "effective_from": "2026-11", "action": "save"}
    )
    with within(org):
        redrafted = draft_statements(org, NOV)
        assert {s.unit.code: s.total for s in redrafted.statements.all()} == wanted
    page = response.content.decode()
    assert "Preview: November 2026 to date" in page
    assert f"${preview.proposed_total:,.2f}" in page


def test_preview_shows_the_first_month_the_version_applies_to(client_for, admin, org, time_machine):
    with within(org):
        import_prices(org, parse_prices(FLAT), actor="test", label="flat")
    ingest(org, _flat("s", "SUP", 5))
    time_machine.move_to(dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC), tick=False)
    proposed = form_data("2026-11", tiers=_tiers(("All", "", "10")), action="preview")
    response = client_for(admin).post(url("policy-create"), proposed)
    preview = response.context["preview"]
    assert preview.period == NOV  # November's usage, whole: not December to date
    assert {r.code: r.proposed for r in preview.rows if r.proposed} == {
        "SUP": Decimal("6.25")
    }  # 5 + 10% + 15% fee
    page = response.content.decode()
    assert "Preview: November 2026</h2>" in page


# Percentages as people type them (issue 18, item 4) ------------------------------------------


def test_percentages_are_typed_as_percents_and_stored_as_fractions(client_for, admin, org):
    client = client_for(admin)
    data = form_data("2026-11", tiers=_tiers(("A", "10,000,000", "50%"), ("B", "", "12.5")))
    client.post(url("policy-create"), {**data, "fee_percent": "15"})
    with within(org):
        version = AllocationPolicy.objects.get()
    policy = version.policy
    assert [t.markup for t in policy.tiers] == [Decimal("0.5"), Decimal("0.125")]
    assert policy.fee_percent == Decimal("0.15")
    assert [t.up_to_tokens for t in policy.tiers] == [10_000_000, None]
    edit = client.get(url("policy-edit", policy_id=version.pk)).content.decode()
    assert 'value="10,000,000"' in edit  # thresholds with separators
    assert 'value="50"' in edit and 'value="12.5"' in edit and 'value="15"' in edit
    assert "Development allowance per unit" in edit  # not the name of a tier


def test_a_preview_warns_above_the_sanity_bounds(client_for, admin, org, settings):
    with within(org):
        import_prices(org, parse_prices(FLAT), actor="test", label="flat")
    ingest(org, _flat("s", "SUP", 5))
    sane = form_data("2026-11", tiers=_tiers(("All", "", "50")), action="preview")
    response = client_for(admin).post(url("policy-create"), sane)
    assert response.context["preview_warnings"] == []
    wild = form_data("2026-11", tiers=_tiers(("All", "", "5000")), action="preview")
    response = client_for(admin).post(url("policy-create"), wild)
    assert response.context["preview_warnings"] == [
        "The All tier's markup is 5,000%, above 100%: check it was meant (markups are in "
        'percent, "20" is 20%).',
        "The proposed statements total $255.75, 51.2 times the $5.00 of usage (more than 3 "
        "times): check the markups, fees and pools.",
    ]
    assert "Check before saving" in response.content.decode()
    settings.ALLOCATION_WARN_MARKUP = Decimal("60")
    settings.ALLOCATION_WARN_RATIO = Decimal("100")
    response = client_for(admin).post(url("policy-create"), wild)
    assert response.context["preview_warnings"] == []


def test_the_confidence_gate_is_set_on_the_editor_and_shown_on_the_detail(client_for, admin, org):
    client = client_for(admin)
    response = client.post(
        url("policy-create"), form_data("2026-11", confidence_gate="gateway_key"), follow=True
    )
    with within(org):
        version = AllocationPolicy.objects.get(organization=org)
    assert version.policy.confidence_min == "gateway_key"
    assert "charged only for spend attributed by <code>gateway_key</code>" in (
        response.content.decode()
    )
    page = client.get(url("policy-edit", policy_id=version.pk))
    assert page.context["form"].initial["confidence_gate"] == "gateway_key"
    client.post(url("policy-edit", policy_id=version.pk), form_data("2026-11"))
    version.refresh_from_db()
    assert version.policy.confidence_min is None  # "Off" (the empty choice) turns it off
