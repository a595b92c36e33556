"""The streaming export endpoint: GET /api/v1/o/<org>/events/export streams the events as CSV
or NDJSON, or FOCUS 1.3/1.0 rows, since N days or a date; every unit for finance, admins and
viewers, a team lead's units only; a bad parameter is a 400 naming it, a unit out of reach a
404; and it is in the OpenAPI schema."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.generators import SchemaGenerator

from chargeback.tenancy.models import Role
from tests.conftest import _member
from tests.dashboards.test_event_export import _text, _units
from tests.reconciliation.conftest import metered  # noqa: F401 (fixture)
from tests.usage.conftest import priced_org  # noqa: F401 (fixture)


def _get(client, org, query: str):
    return client.get(f"/api/v1/o/{org.slug}/events/export?{query}")


@pytest.mark.parametrize("persona", ["admin", "finance", "viewer"])
def test_streams_every_unit_since_a_date(request, client_for, metered, persona):  # noqa: F811
    c = client_for(request.getfixturevalue(persona))
    response = _get(c, metered, "since=2026-10-01&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="alpha-events-2026-10-01-' in response["Content-Disposition"]
    assert _units(_text(response)) == ["SALES", "SALES", "SUP", "SUP", "SUP"]
    assert _units(_text(_get(c, metered, "since=2026-10-01&unit=SUP"))) == ["SUP"] * 3
    assert _units(_text(_get(c, metered, "since=2026-10-06"))) == ["SALES", "SALES"]


def test_ndjson_focus_versions_and_a_number_of_days(client_for, admin, metered, time_machine):  # noqa: F811
    time_machine.move_to("2026-10-06T12:00:00Z")
    c = client_for(admin)
    response = _get(c, metered, "since=2d&format=ndjson")  # the 5th and the 6th
    assert response["Content-Type"] == "application/x-ndjson"
    rows = [json.loads(line) for line in _text(response).splitlines()]
    assert sorted(r["unit"] for r in rows) == ["SALES", "SALES", "SUP", "SUP", "SUP"]
    assert _text(_get(c, metered, "since=1d&format=ndjson")).count("\n") == 2  # the 6th
    for version, has_13 in (("1.3", True), ("1.0", False)):
        response = _get(c, metered, f"since=30d&format=focus&focus_version={version}")
        text = _text(response)
        assert f"focus-{version}" in response["Content-Disposition"]
        header = next(csv.reader(io.StringIO(text)))
        assert ("ServiceProviderName" in header) is has_13
        assert _units(text, "x_UnitCode") == ["SALES", "SUP"]


def test_a_team_lead_gets_only_its_units(client_for, metered):  # noqa: F811
    lead = _member(metered, Role.TEAM_LEAD, "lead@alpha.example", [metered.units_map["SUP"]])
    c = client_for(lead)
    assert _units(_text(_get(c, metered, "since=2026-10-01"))) == ["SUP"] * 3
    focus = _text(_get(c, metered, "since=2026-10-01&format=focus"))
    assert _units(focus, "x_UnitCode") == ["SUP"]
    assert _get(c, metered, "since=2026-10-01&unit=SALES").status_code == 404
    assert _get(c, metered, "unit=NOPE").status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("format=xls", "format"),
        ("format=json", "format"),
        ("format=focus&focus_version=2.0", "focus_version"),
        ("since=soon", "since"),
        ("since= 30d", "since"),
        ("since=2026-02-30", "since"),
        ("since=20261001", "since"),
        ("unit=", "unit"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(client_for, admin, metered, query, field):  # noqa: F811
    response = _get(client_for(admin), metered, query)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert field in response.json()


def test_empty_range_is_the_header_only_anonymous_refused(client, client_for, admin, metered):  # noqa: F811
    assert _get(client, metered, "since=30d").status_code in (401, 403)
    text = _text(_get(client_for(admin), metered, "since=2099-01-01"))
    assert text.count("\n") == 1 and text.startswith("request_id,")


def test_the_export_runs_a_bounded_number_of_queries(client_for, admin, metered):  # noqa: F811
    c = client_for(admin)
    with CaptureQueriesContext(connection) as few:
        _text(_get(c, metered, "since=2026-10-01&format=focus"))
    with CaptureQueriesContext(connection) as csv_queries:
        _text(_get(c, metered, "since=2026-10-01&format=csv"))
    assert len(few) < 20 and len(csv_queries) < 20


def test_the_endpoint_is_in_the_openapi_schema():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/o/{org_slug}/events/export"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {
        "since", "format", "focus_version", "unit"
    }  # fmt: skip
    assert set(operation["responses"]["200"]["content"]) == {"text/csv", "application/x-ndjson"}
