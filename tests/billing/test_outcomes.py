"""Outcome counts: the CSV reader and record checks, the upsert (a new count replaces the
stored one), and the pages (list with filters and empty states, CSV upload with a preview,
errors naming row and field, roles)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chargeback.audit.models import AuditEvent
from chargeback.billing.models import BillingPeriod, OutcomeCount
from chargeback.billing.outcomes import (
    OutcomeError,
    Problem,
    import_outcomes,
    parse_records,
    read_csv,
)
from chargeback.tenancy.scoping import within

GOOD = "unit,month,outcome,count\nSUP,2026-10,resolved_ticket,120\nSALES,2026-10,draft,7\n"


@pytest.fixture
def org(priced_org, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC), tick=False)
    return priced_org


def url(name: str) -> str:
    return reverse(f"billing:{name}", kwargs={"org_slug": "alpha"})


def stored(org) -> dict:
    with within(org):
        return {
            (c.unit.code, f"{c.month:%Y-%m}", c.outcome): (c.count, c.source)
            for c in OutcomeCount.objects.filter(organization=org).select_related("unit")
        }


def problems(org, text: str) -> list[str]:
    with pytest.raises(OutcomeError) as exc, within(org):
        parse_records(org, read_csv(text))
    return [p.label("row") for p in exc.value.problems]


# The logic -----------------------------------------------------------------------------------


def test_import_creates_then_replaces_never_adds(org):
    with within(org):
        records = parse_records(org, read_csv(GOOD))
        result = import_outcomes(organization=org, records=records, actor="test", source="upload")
        assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
        again = parse_records(org, read_csv(GOOD.replace(",120", ",100")))
        result = import_outcomes(organization=org, records=again, actor="test", source="api")
        assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
        assert stored(org) == {
            ("SUP", "2026-10", "resolved_ticket"): (100, "api"),
            ("SALES", "2026-10", "draft"): (7, "upload"),  # unchanged rows are not rewritten
        }
        assert AuditEvent.objects.filter(organization=org, action="outcomes.imported").count() == 2


def test_csv_rows_are_reported_by_row_and_field(org):
    with within(org):
        BillingPeriod.objects.create(organization=org, month="2026-09-01", state="closed")
        text = (
            "unit,month,outcome,count\n"
            "SUP,2026-10,resolved_ticket,120\n"
            "\n"
            "NOPE,2026-10,resolved_ticket,1\n"
            "SUP,october,resolved_ticket,1\n"
            "SUP,2026-09,resolved_ticket,1\n"
            "SUP,2026-10,resolved-ticket,1\n"
            "SUP,2026-10,draft,many\n"
            "SUP,2026-10,draft\n"
            "SUP,2026-10,resolved_ticket,3\n"
            "SUP,0000-10,resolved_ticket,1\n"
            "SUP,\u0662\u0660\u0662\u0666-10,resolved_ticket,1\n"
        )
        assert problems(org, text) == [
            'row 4, unit: unknown unit "NOPE"',
            'row 5, month: "october" is not a month (YYYY-MM)',
            "row 6, month: 2026-09 is already issued: its statements are immutable, so its "
            "outcome counts can no longer change",
            'row 7, outcome: "resolved-ticket" must be lower-case letters, digits and _ '
            "(at most 100 characters)",
            'row 8, count: must be a whole number of 0 or more, not "many"',
            "row 9: has 3 cells; the header has 4",
            "row 10: a second count for SUP 2026-10 resolved_ticket (first at 2)",
            'row 11, month: "0000-10" is not a month (YYYY-MM)',
            'row 12, month: "\u0662\u0660\u0662\u0666-10" is not a month (YYYY-MM)',
        ]


def test_a_month_issued_between_the_check_and_the_write_refuses_the_import(org):
    with within(org):
        records = parse_records(org, read_csv(GOOD))
        BillingPeriod.objects.create(organization=org, month="2026-10-01", state="in_review")
        with pytest.raises(OutcomeError) as raised:
            import_outcomes(organization=org, records=records, actor="test", source="upload")
        assert [p.label() for p in raised.value.problems] == [
            f"record {i}, month: 2026-10 was issued meanwhile: its statements are immutable, so "
            "its outcome counts can no longer change"
            for i in (2, 3)
        ]
        assert not OutcomeCount.objects.filter(organization=org).exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["row 1: the file is empty"]),
        ("unit,month,count\n", ["row 1: missing column(s) outcome"]),
        (
            "unit,month,outcome,count,cost\n",
            ["row 1: unknown column(s) cost (allowed: unit, month, outcome, count)"],
        ),
        ("unit,month,outcome,count\n\n", ["row 2: no counts under the header"]),
    ],
)
def test_bad_headers_and_empty_files(org, text, expected):
    assert problems(org, text) == expected


def test_problem_json_names_index_and_field():
    assert Problem(3, "count", "x").as_json() == {"index": 3, "field": "count", "message": "x"}
    assert Problem(3, "", "x").as_json("row") == {"row": 3, "field": None, "message": "x"}


# The pages -----------------------------------------------------------------------------------


def _upload(client, text: str, name: str = "outcomes.csv"):
    return client.post(url("outcome-upload"), {"file": SimpleUploadedFile(name, text.encode())})


def test_upload_previews_then_confirms_with_a_message(client_for, finance, org):
    client = client_for(finance)
    with within(org):
        OutcomeCount.objects.create(
            organization=org, unit=org.units_map["SALES"], month="2026-10-01", outcome="draft",
            count=3,
        )  # fmt: skip
    preview = _upload(client, GOOD)
    page = preview.content.decode()
    assert preview.status_code == 200
    assert (
        "2 counts in the file; 2 will be added or replaced. Nothing has been written yet." in page
    )
    assert "replaces" in page and "new" in page
    assert stored(org) == {("SALES", "2026-10", "draft"): (3, "api")}
    text = preview.context["confirm"].initial["text"]
    done = client.post(url("outcome-upload"), {"text": text}, follow=True)
    assert done.redirect_chain[-1][0] == url("outcome-list")
    assert "Imported 2 outcome counts: 1 new, 1 replaced, 0 unchanged." in done.content.decode()
    assert stored(org) == {
        ("SUP", "2026-10", "resolved_ticket"): (120, "upload"),
        ("SALES", "2026-10", "draft"): (7, "upload"),
    }


def test_upload_errors_name_row_and_field_and_write_nothing(client_for, finance, org):
    client = client_for(finance)
    response = _upload(client, GOOD + "SUP,2026-10,draft,-4\n")
    page = response.content.decode()
    assert "1 error: nothing will be imported." in page
    assert "row 4, count: -4 must not be negative" in page
    # A tampered confirmation is checked again, never written.
    confirm = client.post(url("outcome-upload"), {"text": GOOD + "ZZZ,2026-10,draft,1\n"})
    assert "row 4, unit: unknown unit &quot;ZZZ&quot;" in confirm.content.decode()
    assert stored(org) == {}
    bad = client.post(url("outcome-upload"), {"file": SimpleUploadedFile("o.csv", b"\xff\xfe")})
    assert "The file is not UTF-8 text (invalid byte at position 1)." in bad.content.decode()


def test_list_filters_pagination_and_empty_states(client_for, finance, org):
    client = client_for(finance)
    empty = client.get(url("outcome-list")).content.decode()
    assert "No outcome counts yet" in empty
    units = org.units_map
    with within(org):
        for month in ("2026-09-01", "2026-10-01"):
            for code in ("SUP", "SALES"):
                OutcomeCount.objects.create(
                    organization=org, unit=units[code], month=month, outcome="resolved_ticket",
                    count=5,
                )  # fmt: skip
    page = client.get(url("outcome-list")).context["page"]
    assert page.paginator.count == 4
    filtered = client.get(url("outcome-list"), {"month": "2026-10", "unit": "SUP"})
    assert [(f"{c.month:%Y-%m}", c.unit.code) for c in filtered.context["page"]] == [
        ("2026-10", "SUP")
    ]
    none = client.get(url("outcome-list"), {"month": "2026-08"})  # not a listed month: ignored
    assert none.context["page"].paginator.count == 4
    nothing = client.get(url("outcome-list"), {"unit": "OPS"})
    assert "No outcome counts match" in nothing.content.decode()


def test_list_queries_do_not_grow_with_rows(client_for, finance, org):
    client = client_for(finance)

    def queries(n: int) -> int:
        with within(org):
            OutcomeCount.objects.all().delete()
            for i in range(n):
                OutcomeCount.objects.create(
                    organization=org, unit=org.units_map["SUP"], month="2026-10-01",
                    outcome=f"outcome_{i}", count=i,
                )  # fmt: skip
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("outcome-list")).status_code == 200
        return len(ctx.captured_queries)

    assert queries(1) == queries(3)


@pytest.mark.parametrize("role", ["team_lead", "viewer"])
def test_only_finance_and_admins_manage_outcomes(client, org_a, role, request):
    membership = request.getfixturevalue(role)
    client.force_login(membership.user)
    assert client.get(url("outcome-list")).status_code == 403
    assert client.get(url("outcome-upload")).status_code == 403
    assert client.post(url("outcome-upload"), {"text": GOOD}).status_code == 403
