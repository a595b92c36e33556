"""The events export from the dashboards: streamed CSV, NDJSON and FOCUS in the window and
unit the page shows, every unit for finance/admins/viewers, a team lead's units only, bad
parameters a 400 that names them, and the link on the overview and unit pages."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django_scopes import scopes_disabled

from chargeback.tenancy.models import Role
from chargeback.units.models import BusinessUnit
from tests.conftest import _member
from tests.reconciliation.conftest import metered  # noqa: F401 (fixture)
from tests.usage.conftest import priced_org  # noqa: F401 (fixture)

OCTOBER = "period=custom&from=2026-10-01&to=2026-10-31"


def _get(client, org, query):
    return client.get(f"/o/{org.slug}/events/export/?{query}")


def _text(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def _units(text: str, column: str = "unit") -> list[str]:
    return sorted(r[column] for r in csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("persona", ["admin", "finance", "viewer"])
def test_every_unit_for_finance_admins_and_viewers(request, client_for, metered, persona):  # noqa: F811
    c = client_for(request.getfixturevalue(persona))
    response = _get(c, metered, f"{OCTOBER}&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="alpha-events-2026-10-01-2026-10-31.csv"' in response["Content-Disposition"]
    assert _units(_text(response)) == ["SALES", "SALES", "SUP", "SUP", "SUP"]
    sup = metered.units_map["SUP"].pk
    assert _units(_text(_get(c, metered, f"{OCTOBER}&unit={sup}"))) == ["SUP"] * 3
    # the window: only the 6th
    one_day = _text(_get(c, metered, "period=custom&from=2026-10-06&to=2026-10-06"))
    assert _units(one_day) == ["SALES", "SALES"]


def test_a_team_lead_gets_only_its_units(client_for, metered):  # noqa: F811
    lead = _member(metered, Role.TEAM_LEAD, "lead@alpha.example", [metered.units_map["SUP"]])
    c = client_for(lead)
    assert _units(_text(_get(c, metered, f"{OCTOBER}&format=csv"))) == ["SUP"] * 3
    focus = _text(_get(c, metered, f"{OCTOBER}&format=focus"))
    assert _units(focus, "x_UnitCode") == ["SUP"]
    assert _get(c, metered, f"{OCTOBER}&unit={metered.units_map['SALES'].pk}").status_code == 404


def test_ndjson_and_focus_versions(client_for, admin, metered):  # noqa: F811
    c = client_for(admin)
    response = _get(c, metered, f"{OCTOBER}&format=ndjson")
    assert response["Content-Type"] == "application/x-ndjson"
    rows = [json.loads(line) for line in _text(response).splitlines()]
    assert len(rows) == 5 and rows[0]["occurred_at"].endswith("Z")
    for version, has_13 in (("1.3", True), ("1.0", False)):
        response = _get(c, metered, f"{OCTOBER}&format=focus&focus_version={version}")
        assert f"focus-{version}" in response["Content-Disposition"]
        header = next(csv.reader(io.StringIO(_text(response))))
        assert ("ServiceProviderName" in header) is has_13 and "BilledCost" in header


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("format=xls", "format"),
        ("format=", "format"),
        ("format=focus&focus_version=2.0", "focus_version"),
        ("unit=abc", "unit"),
        ("unit=", "unit"),
        ("period=custom&from=2026-13-01&to=2026-10-31", "from"),
        ("period=custom&from=2026-10-01&to=nope", "to"),
        ("period=someday", "period"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(client_for, admin, metered, query, field):  # noqa: F811
    response = _get(client_for(admin), metered, query)
    assert response.status_code == 400
    assert response.content.decode().startswith(f"{field}: ")


def test_another_organisations_unit_is_a_404(client_for, admin, metered, org_b):  # noqa: F811
    with scopes_disabled():
        foreign = BusinessUnit.objects.filter(organization=org_b).first()
    assert foreign is not None
    assert _get(client_for(admin), metered, f"unit={foreign.pk}").status_code == 404


def test_the_pages_link_the_export_with_their_window_and_unit(client_for, admin, metered):  # noqa: F811
    c = client_for(admin)
    page = c.get(f"/o/{metered.slug}/?{OCTOBER}").content.decode()
    assert 'data-testid="events-export"' in page
    link = f"/o/{metered.slug}/events/export/?{OCTOBER.replace('&', '&amp;')}&amp;format=csv"
    assert link in page
    sup = metered.units_map["SUP"].pk
    unit_page = c.get(f"/o/{metered.slug}/units/{sup}/spend/?{OCTOBER}").content.decode()
    assert f"&amp;unit={sup}&amp;format=focus&amp;focus_version=1.0" in unit_page
