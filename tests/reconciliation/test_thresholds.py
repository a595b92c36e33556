"""Per-organisation thresholds: the close gate, the readiness auditor and "absorb once, then
enforce" read them; finance edits them on a page (audited old -> new) or in the file."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_scopes import scopes_disabled

from chargeback.audit.models import AuditEvent
from chargeback.billing.models import BillingPeriod
from chargeback.calendar import Period
from chargeback.provisioning.config import apply_config, parse_config
from chargeback.reconciliation.absorb import FLAGGED, status
from chargeback.reconciliation.gate import variance_gate
from chargeback.reconciliation.readiness import UnitFacts, assess
from chargeback.reconciliation.thresholds import (
    DEFAULTS,
    Thresholds,
    parse_percent,
    save_thresholds,
    thresholds_of,
)
from chargeback.tenancy.models import Role
from chargeback.tenancy.scoping import within
from chargeback.units.models import BusinessUnit
from tests.conftest import _member
from tests.reconciliation.conftest import INVOICE

D = Decimal
OCT = "2026-10"
UNEXPLAINED = INVOICE + "openai,gpt-4o,input,1,1.00,USD\n"  # $1.00 unexplained: 10.31%


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _invoice(org, tmp_path, text=UNEXPLAINED) -> None:
    path = tmp_path / "invoice.csv"
    path.write_text(text)
    run("import_invoice", "--org", org.slug, "--period", OCT, str(path))


def _ready(org) -> dict[str, bool]:
    report = json.loads(run("readiness", "--org", org.slug, "--period", OCT, "--format", "json"))
    return {u["unit"]: u["ready"] for u in report["units"]}


def test_the_defaults_until_changed_and_percents_as_people_type_them(org_a):
    with within(org_a):
        assert thresholds_of(org_a) == DEFAULTS == Thresholds(D(2), D(95), True, 1)
    assert parse_percent("2") == D("2.00") and parse_percent(" 95 % ") == D("95.00")
    assert parse_percent(95) == D(95) and parse_percent("2.5") == D("2.50")
    for bad, why in (("101", "between 0 and 100"), ("-1", "between 0 and 100"),
                     ("2.555", "at most 2 decimal places"), ("two", "is not a percent"),
                     (2.5, "a float is refused"), ("NaN", "is not a percent")):  # fmt: skip
        with pytest.raises(ValueError, match=why):
            parse_percent(bad)


def test_the_variance_threshold_decides_close_period(metered, tmp_path, time_machine):
    _invoice(metered, tmp_path)
    run("close_period", "--org", metered.slug, "--period", OCT, "--issue")
    time_machine.move_to("2027-01-04T12:00:00Z", tick=False)  # the dispute window has ended
    with pytest.raises(CommandError, match=r"\(10.31% of \$9.70 billed\), above the 2% threshold"):
        run("close_period", "--org", metered.slug, "--period", OCT, "--close")
    with within(metered):
        save_thresholds(metered, Thresholds(variance_threshold_pct=D("10.31")), actor="test")
    out = run("close_period", "--org", metered.slug, "--period", OCT, "--close")
    assert "closed" in out
    with within(metered):
        period = BillingPeriod.objects.get(organization=metered, month=Period.parse(OCT).first)
        assert period.state == "closed" and not period.close_override


def test_a_lower_threshold_blocks_a_month_the_default_lets_close(metered, tmp_path):
    """The invoice's $0.05 unexplained (0.57% of $8.75) passes at 2% and fails at 0.5%."""
    _invoice(metered, tmp_path, INVOICE + "internal,flat,output,0,0.05,USD\n")
    run("close_period", "--org", metered.slug, "--period", OCT, "--issue")
    with within(metered):
        assert variance_gate(metered, OCT) is None
        apply_config(metered, parse_config('reconciliation: {variance_threshold_pct: "0.5"}'),
                     actor="test")  # fmt: skip
    with pytest.raises(CommandError, match=r"\(0.57% of \$8.75 billed\), above the 0.5% threshold"):
        run("close_period", "--org", metered.slug, "--period", OCT, "--close")


def test_the_readiness_command_follows_the_thresholds(metered, tmp_path):
    _invoice(metered, tmp_path)
    assert _ready(metered) == {"SUP": False, "SALES": False}  # 10.31% unexplained
    with within(metered):
        save_thresholds(metered, Thresholds(variance_threshold_pct=D(11)), actor="test")
    assert _ready(metered) == {"SUP": True, "SALES": True}
    with scopes_disabled():
        BusinessUnit.objects.filter(organization=metered, code="SALES").update(owner_email="")
    assert _ready(metered) == {"SUP": True, "SALES": False}
    with within(metered):
        save_thresholds(
            metered,
            Thresholds(variance_threshold_pct=D(11), require_named_owners=False),
            actor="test",
        )
    report = json.loads(
        run("readiness", "--org", metered.slug, "--period", OCT, "--format", "json")
    )
    assert report["thresholds"] == {"variance_threshold_pct": "11", "attributable_threshold_pct":
                                    "95", "require_named_owners": False, "absorb_grace_months": 1}  # fmt: skip
    sales = next(u for u in report["units"] if u["unit"] == "SALES")
    assert sales["ready"] is True and sales["named_owner"] is False


def test_the_attributable_threshold_decides_the_ready_flag():
    facts = UnitFacts("SUP", "Support", spend=D(100), fallback=D(8), unit_owner="a@x")
    at = lambda pct: assess(facts, currency="USD", unexplained_pct=D(0),  # noqa: E731
                            thresholds=Thresholds(attributable_threshold_pct=D(pct)))  # fmt: skip
    assert at(95).ready is False
    assert at(95).fix_first == "attribute $8.00 of fallback spend (92.00% attributable, needs 95%)"
    assert at(92).ready is True and at("92.5").ready is False


def test_the_grace_period_decides_when_a_key_is_flagged():
    sep, nov = Period.parse("2026-09").first, Period.parse("2026-11").first
    assert status(sep, nov, DEFAULTS.absorb_grace_months) == FLAGGED
    assert status(sep, nov, 3) != FLAGGED


def test_finance_edits_the_thresholds_on_a_page_and_the_change_is_audited(metered, client):
    client.force_login(_member(metered, Role.FINANCE, "fin@alpha.example").user)
    url = reverse("reconciliation:thresholds", kwargs={"org_slug": metered.slug})
    page = client.get(url)
    assert page.status_code == 200 and b'value="95"' in page.content
    form = {"variance_threshold_pct": "2.5", "attributable_threshold_pct": "90 %",
            "require_named_owners": "on", "absorb_grace_months": "2"}  # fmt: skip
    assert client.post(url, form).status_code == 302
    with within(metered):
        assert thresholds_of(metered) == Thresholds(D("2.5"), D(90), True, 2)
        event = AuditEvent.objects.get(organization=metered,
                                       action="reconciliation.thresholds_updated")  # fmt: skip
    assert event.before == {"variance_threshold_pct": "2", "attributable_threshold_pct": "95",
                            "absorb_grace_months": 1}  # fmt: skip
    assert event.after == {"variance_threshold_pct": "2.5", "attributable_threshold_pct": "90",
                           "absorb_grace_months": 2}  # fmt: skip
    bad = client.post(url, {**form, "variance_threshold_pct": "150"})
    assert bad.status_code == 400 and b"between 0 and 100" in bad.content
    for name in ("readiness", "reconciliation"):
        html = client.get(reverse(f"reconciliation:{name}", kwargs={"org_slug": metered.slug}))
        assert b"unexplained variance at most <strong>2.5%</strong>" in html.content
        assert b"<strong>90%</strong> of spend attributed" in html.content
        assert b"absorbed for <strong>2 months</strong>" in html.content


def test_team_leads_and_viewers_cannot_edit_the_thresholds(metered, client):
    url = reverse("reconciliation:thresholds", kwargs={"org_slug": metered.slug})
    for role in (Role.VIEWER, Role.TEAM_LEAD):
        client.force_login(_member(metered, role, f"{role}@alpha.example").user)
        assert client.post(url, {"variance_threshold_pct": "50"}).status_code == 403
    with within(metered):
        assert thresholds_of(metered) == DEFAULTS
