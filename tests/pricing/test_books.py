import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from chargeback.pricing.books import (
    DEFAULT_BOOK,
    PriceFileError,
    diff_versions,
    dump_prices,
    export_rows,
    import_prices,
    parse_prices,
    price_index,
)
from chargeback.pricing.models import ModelPrice, PriceVersion
from chargeback.provisioning.orgs import create_organization
from chargeback.tenancy.scoping import within

HEADER = "provider,model,effective_from,input_per_1m,output_per_1m,cached_input_per_1m,cache_write_per_1m,batch_input_per_1m,batch_output_per_1m,per_request,currency,source,source_date\n"


@pytest.fixture
def org(db):
    org, _ = create_organization(
        slug="prices", name="Prices Inc", currency="USD", timezone="Europe/Berlin"
    )
    return org


def test_new_org_starts_from_the_default_book(org):
    with within(org):
        rows = parse_prices(DEFAULT_BOOK.read_text())
        assert PriceVersion.objects.filter(organization=org).count() == 1
        assert ModelPrice.objects.filter(organization=org).count() == len(rows)
        providers = {r.provider for r in rows}
        assert {"openai", "anthropic", "google", "bedrock", "mistral"} <= providers
        assert all(r.source and r.source_date for r in rows)


def test_export_import_round_trip_is_a_fixed_point(org):
    with within(org):
        text = dump_prices(export_rows(org))
        assert parse_prices(text) == export_rows(org)
        version, changes = import_prices(org, parse_prices(text), actor="test", label="again")
        assert (version, changes) == (None, [])
        as_json = dump_prices(export_rows(org), "json")
        assert parse_prices(as_json, "json") == export_rows(org)


def test_effective_dating_and_versions(org):
    with within(org):
        text = HEADER + "openai,gpt-4o-mini,2026-11-01,0.20,0.80,,,,,,USD,memo,2026-10-20\n"
        version, changes = import_prices(
            org, parse_prices(text), actor="test", label="Nov price rise"
        )
        assert version.number == 2 and changes == ["added openai/gpt-4o-mini from 2026-11-01"]
        index = price_index(org)
        berlin_midnight = dt.datetime(2026, 10, 31, 23, 0, tzinfo=dt.UTC)
        before = index.find("openai", "gpt-4o-mini", berlin_midnight - dt.timedelta(seconds=1))
        after = index.find("openai", "gpt-4o-mini", berlin_midnight)
        assert before.rates.input == Decimal("0.15") and after.rates.input == Decimal("0.20")
        assert index.find("openai", "gpt-4o-mini", dt.datetime(2020, 1, 1, tzinfo=dt.UTC)) is None
        diff = diff_versions(org, 1, 2)
        assert [(d.kind, d.key[1]) for d in diff] == [("added", "gpt-4o-mini")]


def test_same_date_reimport_changes_price_in_a_new_version(org):
    with within(org):
        text = (
            HEADER
            + "openai,gpt-4o,2024-10-01,2.40,10.00,1.25,,1.25,5.00,,USD,negotiated,2026-01-01\n"
        )
        version, changes = import_prices(org, parse_prices(text), actor="test", label="fix")
        assert changes == ["changed openai/gpt-4o from 2024-10-01"]
        point = price_index(org).find("openai", "gpt-4o", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        assert point.rates.input == Decimal("2.40") and point.version == version.number
        assert [d.kind for d in diff_versions(org, 1, version.number)] == ["changed"]


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("openai,m,2026-01-01,x,1,,,,,,USD,s,", 'line 2, input_per_1m: "x" is not a number'),
        (
            "openai,m,2026-01-01,-1,1,,,,,,USD,s,",
            'line 2, input_per_1m: "-1" must be a non-negative number',
        ),
        (
            "openai,m,2026-13-01,1,1,,,,,,USD,s,",
            'line 2, effective_from: "2026-13-01" is not a date (YYYY-MM-DD)',
        ),
        ("openai,m,2026-01-01,1,1,,,,,,XXQ,s,", 'line 2, currency: unknown currency "XXQ"'),
        (",m,2026-01-01,1,1,,,,,,USD,s,", "line 2, provider: required"),
        (
            "openai,m,2026-01-01,1,,,,,,,USD,s,",
            "line 2: input_per_1m and output_per_1m go together",
        ),
        (
            "openai,m,2026-01-01,,,,,,,,USD,s,",
            "line 2: needs input_per_1m and output_per_1m, or a per_request fee",
        ),
    ],
)
def test_bad_rows_are_named(row, error):
    with pytest.raises(PriceFileError) as exc:
        parse_prices(HEADER + row + "\n")
    assert exc.value.errors == [error]


def test_bad_files():
    with pytest.raises(PriceFileError) as exc:
        parse_prices("provider,model\nopenai,x\n")
    assert exc.value.errors == ["header: missing column(s) effective_from, currency, source"]
    with pytest.raises(PriceFileError) as exc:
        parse_prices("[{", "json")
    assert exc.value.errors[0].startswith("line 1: invalid JSON")
    with pytest.raises(PriceFileError) as exc:
        parse_prices(HEADER)
    assert exc.value.errors == ["the file holds no prices"]


def test_commands(org, tmp_path, capsys):
    path = tmp_path / "p.csv"
    path.write_text(
        HEADER
        + "mistral,mistral-large,2026-12-01,1.80,5.40,,,,,,USD,https://mistral.ai/pricing,2026-11-20\n"
    )
    call_command("import_prices", "--org", "prices", str(path))
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "added mistral/mistral-large from 2026-12-01",
        "price version 2: 1 price(s) added or changed",
    ]
    call_command("import_prices", "--org", "prices", str(path))
    assert capsys.readouterr().out == "no changes: all 1 prices are already in force\n"
    call_command("export_prices", "--org", "prices", "--format", "csv")
    exported = capsys.readouterr().out
    assert (
        "mistral,mistral-large,2026-12-01,1.8,5.4,,,,,,USD,https://mistral.ai/pricing,2026-11-20"
        in exported
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "openai,m,2026-01-01,x,1,,,,,,USD,s,\n")
    with pytest.raises(CommandError, match="1 error"):
        call_command("import_prices", "--org", "prices", str(bad))
    with pytest.raises(CommandError, match='unknown organization "nope"'):
        call_command("export_prices", "--org", "nope")
    with pytest.raises(CommandError, match="file not found"):
        call_command("import_prices", "--org", "prices", str(tmp_path / "missing.csv"))
