"""The price-book pages, as the personas: prices, versions and their diff, export, import with
a preview, and model aliases."""

from __future__ import annotations

import csv
import html
import io
import json

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chargeback.audit.models import AuditEvent
from chargeback.pricing.books import (
    COLUMNS,
    dump_prices,
    export_rows,
    import_prices,
    load_default_prices,
    parse_prices,
)
from chargeback.pricing.models import ModelAlias, ModelPrice, PriceVersion
from chargeback.tenancy.scoping import within

PERSONAS = ("admin", "finance", "viewer", "team_lead")
HEADER = ",".join(COLUMNS) + "\n"
# gpt-4o-mini changes its input price; a new model appears
CHANGES = (
    HEADER
    + "openai,gpt-4o-mini,2024-07-18,0.20,0.60,0.075,,0.075,0.30,,USD,https://openai.com/api/pricing/,2025-10-01\n"
    + "acme,acme-large,2026-01-01,3,9,,,,,,USD,acme price sheet,2026-01-02\n"
)


def url(name: str, **kwargs: object) -> str:
    return reverse(f"pricing:{name}", kwargs={"org_slug": "alpha", **kwargs})


def messages_of(response) -> list[str]:
    return [m.message for m in get_messages(response.wsgi_request)]


def audit_count(org) -> int:
    with within(org):
        return AuditEvent.objects.filter(organization=org).count()


@pytest.fixture
def priced(org_a):
    with within(org_a):
        load_default_prices(org_a, actor="test")
    return org_a


def prices(org, text: str, label: str = "test") -> PriceVersion:
    with within(org):
        version, _ = import_prices(org, parse_prices(HEADER + text), actor="test", label=label)
        return version


# Who may open what -------------------------------------------------------------------------

PAGES = [
    ("price-list", {}, "", set(PERSONAS)),
    ("price-export", {}, "?format=csv", set(PERSONAS)),
    ("version-list", {}, "", set(PERSONAS)),
    ("version-detail", {"version_id": None}, "", set(PERSONAS)),
    ("version-diff", {}, "?a=1&b=1", set(PERSONAS)),
    ("alias-list", {}, "", set(PERSONAS)),
    ("price-import", {}, "", {"admin"}),
    ("alias-create", {}, "", {"admin"}),
    ("alias-delete", {"alias_id": None}, "", {"admin"}),
]


@pytest.mark.parametrize("persona", PERSONAS)
def test_pages_open_for_allowed_roles_and_are_forbidden_to_others(
    request, client_for, priced, persona
):
    web = client_for(request.getfixturevalue(persona))
    with within(priced):
        alias = ModelAlias.objects.create(
            organization=priced, raw="my-4o", canonical_provider="openai", canonical_model="gpt-4o"
        )
        ids = {"version_id": PriceVersion.objects.get().pk, "alias_id": alias.pk}
    seen = {}
    for name, kwargs, query, _allowed in PAGES:
        kwargs = {k: ids[k] for k in kwargs}
        seen[name] = web.get(url(name, **kwargs) + query).status_code
    assert seen == {name: 200 if persona in allowed else 403 for name, _k, _q, allowed in PAGES}
    # the confirmation POST: admin without a previewed file goes back to the upload form
    assert web.post(url("price-import-apply"), {}).status_code == (
        302 if persona == "admin" else 403
    )


def test_bad_input_never_fails(client_for, admin, priced):
    web = client_for(admin)
    for path in (
        url("price-list") + "?page=abc&provider=%00&q=%00",
        url("price-list") + "?page=99999",
        url("version-list") + "?page=-3",
        url("alias-list") + "?q=%00&page=x",
    ):
        assert web.get(path).status_code == 200, path
    for path in (
        url("version-diff"),
        url("version-diff") + "?a=1&b=99",
        url("version-diff") + "?a=x&b=1",
        url("version-diff") + "?a=¹&b=1",
        url("price-export") + "?format=xlsx",
        url("version-detail", version_id=999999),
        url("alias-delete", alias_id=999999),
    ):
        assert web.get(path).status_code == 404, path
    response = web.post(url("price-import-apply"), {"text": "", "format": "csv", "label": "x"})
    assert response.status_code == 302 and response["Location"] == url("price-import")


# Prices -----------------------------------------------------------------------------------


def test_price_list_filters_by_provider_and_model(client_for, viewer, priced):
    web = client_for(viewer)
    everything = web.get(url("price-list"))
    with within(priced):  # the paginator counts lazily, after the request
        assert everything.context["page"].paginator.count == len(export_rows(priced))
    response = web.get(url("price-list"), {"provider": "openai", "q": "4O-MINI"})
    rows = [t["row"] for t in response.context["page"]]
    assert [(r.provider, r.model) for r in rows] == [("openai", "gpt-4o-mini")]
    assert [t["status"] for t in response.context["page"]] == ["in force"]
    body = response.content.decode()
    assert (
        '<td class="num">0.15</td><td class="num">0.60</td><td class="num">0.075</td><td class="num">—</td>'
        in body
    )
    assert (
        '<a href="https://openai.com/api/pricing/" rel="noopener noreferrer" target="_blank">'
        in body
    )
    nothing = web.get(url("price-list"), {"provider": "nonesuch"}).context["page"]
    with within(priced):
        assert nothing.paginator.count == 0


def test_price_list_marks_scheduled_and_superseded_rows_and_links_only_web_sources(
    client_for, viewer, org_a
):
    prices(
        org_a,
        "acme,m,2025-01-01,1,2,,,,,,USD,javascript:alert(1),\n"
        "acme,m,2026-01-01,1,3,,,,,,USD,https://acme.example/prices,\n"
        "acme,m,2099-01-01,1,4,,,,,,USD,acme letter,\n",
    )
    response = client_for(viewer).get(url("price-list"))
    assert [t["status"] for t in response.context["page"]] == [
        "superseded",
        "in force",
        "scheduled",
    ]
    body = response.content.decode()
    assert 'href="javascript' not in body and "javascript:alert(1)" in body
    assert 'href="https://acme.example/prices"' in body


def test_export_downloads_csv_and_json(client_for, viewer, priced):
    web = client_for(viewer)
    response = web.get(url("price-export"), {"format": "csv"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="alpha-prices.csv"'
    text = response.content.decode()
    with within(priced):
        assert text == dump_prices(export_rows(priced))
        assert parse_prices(text) == export_rows(priced)

    as_json = web.get(url("price-export"), {"format": "json"})
    assert as_json["Content-Disposition"] == 'attachment; filename="alpha-prices.json"'
    with within(priced):
        assert json.loads(as_json.content) == json.loads(dump_prices(export_rows(priced), "json"))


def test_csv_export_neutralises_formulas(client_for, viewer, org_a):
    prices(
        org_a,
        'acme,evil,2026-01-01,1,2,,,,,,USD,"=HYPERLINK(""http://x.example"",""click"")",\n'
        "acme,plain,2026-01-01,1,2,,,,,,USD,+1 price sheet,\n"
        "acme,at,2026-01-01,1,2,,,,,,USD,@SUM(A1),\n",
    )
    response = client_for(viewer).get(url("price-export"), {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["model"], r["source"]) for r in rows] == [
        ("at", "'@SUM(A1)"),
        ("evil", '\'=HYPERLINK("http://x.example","click")'),
        ("plain", "'+1 price sheet"),
    ]
    assert [r["input_per_1m"] for r in rows] == ["1", "1", "1"]


# Versions and their diff --------------------------------------------------------------------


def test_version_list_counts_rows_and_offers_a_comparison(client_for, viewer, priced):
    prices(priced, CHANGES.removeprefix(HEADER), label="November")
    response = client_for(viewer).get(url("version-list"))
    rows = [(v.number, v.label, v.created_by, v.rows) for v in response.context["page"]]
    with within(priced):
        default_rows = ModelPrice.objects.filter(version__number=1).count()
    assert rows == [(2, "November", "test", 2), (1, "Default list prices", "test", default_rows)]
    assert response.context["compare"] == {"a": 1, "b": 2}
    assert f'action="{url("version-diff")}"' in response.content.decode()


def test_diff_page_shows_added_and_changed_rows_with_the_changed_cells(client_for, viewer, priced):
    prices(priced, CHANGES.removeprefix(HEADER))
    response = client_for(viewer).get(url("version-diff"), {"a": 1, "b": 2})
    assert response.status_code == 200
    lines = response.context["lines"]
    assert [(line["kind"], line["provider"], line["model"]) for line in lines] == [
        ("added", "acme", "acme-large"),
        ("changed", "openai", "gpt-4o-mini"),
    ]
    changed = [(c["column"], c["before"], c["after"]) for c in lines[1]["cells"] if c["changed"]]
    assert changed == [("input_per_1m", "0.15", "0.2")]
    assert response.context["counts"] == {"added": 1, "changed": 1, "removed": 0}
    body = response.content.decode()
    assert '<td class="cell-changed"><del>0.15</del> → <ins>0.2</ins></td>' in body

    backwards = client_for(viewer).get(url("version-diff"), {"a": 2, "b": 1})
    assert [line["kind"] for line in backwards.context["lines"]] == ["removed", "changed"]


def test_version_detail_lists_its_rows(client_for, viewer, priced):
    version = prices(priced, CHANGES.removeprefix(HEADER))
    response = client_for(viewer).get(url("version-detail", version_id=version.pk))
    assert sorted(p.model for p in response.context["page"]) == ["acme-large", "gpt-4o-mini"]
    assert '<td class="num">0.20</td>' in response.content.decode()


# Import -----------------------------------------------------------------------------------


def upload(web, name: str, text: str | bytes):
    content = text.encode() if isinstance(text, str) else text
    return web.post(url("price-import"), {"file": SimpleUploadedFile(name, content)})


def test_import_preview_writes_nothing_and_confirm_writes_a_version(client_for, admin, priced):
    web = client_for(admin)
    with within(priced):
        before = (PriceVersion.objects.count(), ModelPrice.objects.count(), audit_count(priced))
    preview = upload(web, "november.csv", CHANGES)
    assert preview.status_code == 200
    assert [(line["kind"], line["model"]) for line in preview.context["lines"]] == [
        ("changed", "gpt-4o-mini"),
        ("added", "acme-large"),
    ]
    assert (preview.context["total"], preview.context["unchanged"]) == (2, 0)
    with within(priced):
        assert (
            PriceVersion.objects.count(),
            ModelPrice.objects.count(),
            audit_count(priced),
        ) == before
    form = preview.context["form"]
    assert form.initial["label"] == "Import of november.csv"

    response = web.post(
        url("price-import-apply"), {"text": CHANGES, "format": "csv", "label": "November prices"}
    )
    assert response.status_code == 302 and response["Location"] == url("version-list")
    assert messages_of(response) == ["price version 2: 2 prices added or changed"]
    with within(priced):
        version = PriceVersion.objects.get(number=2)
        assert (version.label, version.created_by, version.prices.count()) == (
            "November prices",
            "admin@alpha.example",
            2,
        )

    again = upload(web, "november.csv", CHANGES)
    assert again.context["lines"] == [] and again.context["unchanged"] == 2
    assert "already in force" in again.content.decode()


def test_a_price_that_unblocks_quarantined_records_offers_to_replay_them(
    client_for, admin, priced, django_capture_on_commit_callbacks
):
    from chargeback.usage.ingest import create_batch, process_batch
    from chargeback.usage.models import QuarantinedEvent, UsageEvent
    from tests.usage.conftest import event, ndjson

    waiting = [event(f"acme-{i}", provider="acme", model="acme-large") for i in range(2)]
    with within(priced):
        batch = create_batch(organization=priced, payload=ndjson(waiting), fmt="ndjson", source="t")
    assert process_batch(batch.pk).quarantined == 2
    web = client_for(admin)
    response = web.post(
        url("price-import-apply"), {"text": CHANGES, "format": "csv", "label": "with acme"}
    )
    replay_all = reverse("usage:quarantine-replay-all", args=[priced.slug]) + "?reason=no_price"
    assert messages_of(response) == [
        "price version 2: 2 prices added or changed",
        f'2 records in quarantine are waiting for a price. <a href="{replay_all}">Replay them</a> '
        "to ingest the ones it fixed.",
    ]
    with django_capture_on_commit_callbacks(execute=True):
        web.post(replay_all, {"reason": "no_price", "confirm": "1"})
    with within(priced):
        assert UsageEvent.objects.filter(request_id__startswith="acme-").count() == 2
        assert not QuarantinedEvent.objects.filter(status="open", reason="no_price").exists()


def test_the_preview_warns_about_prices_dated_in_the_past(client_for, admin, priced):
    web = client_for(admin)
    body = upload(web, "november.csv", CHANGES).content.decode()
    assert '<th scope="col">Input</th>' in body and "input_per_1m</th>" not in body
    assert "2 prices take effect on a date that has passed" in body
    assert "openai/gpt-4o-mini from 2024-07-18" in body
    future = HEADER + "acme,acme-large,2099-01-01,3,9,,,,,,USD,acme price sheet,2026-01-02\n"
    preview = upload(web, "future.csv", future)
    assert preview.context["back_dated"] == []
    assert "a date that has passed" not in preview.content.decode()


def test_a_source_with_a_note_links_only_its_url():
    from chargeback.templatetags.prices import source_link

    assert source_link("https://aws.amazon.com/bedrock/pricing/ (us-east-1 on-demand)") == (
        '<a href="https://aws.amazon.com/bedrock/pricing/" rel="noopener noreferrer" '
        'target="_blank">https://aws.amazon.com/bedrock/pricing/</a> (us-east-1 on-demand)'
    )
    assert source_link("acme <price> sheet") == "acme &lt;price&gt; sheet"
    assert source_link('https://x.example/"><script>') == (
        '<a href="https://x.example/&quot;&gt;&lt;script&gt;" rel="noopener noreferrer" '
        'target="_blank">https://x.example/&quot;&gt;&lt;script&gt;</a>'
    )


def test_import_of_json_by_extension(client_for, admin, priced):
    text = dump_prices(parse_prices(CHANGES), "json")
    preview = upload(client_for(admin), "prices.json", text)
    assert preview.context["form"].initial["format"] == "json"
    assert len(preview.context["lines"]) == 2


def test_import_errors_are_listed_and_nothing_is_written(client_for, admin, priced):
    web = client_for(admin)
    bad = HEADER + "openai,gpt-x,2026-13-01,abc,1,,,,,,USD,src,\n"
    preview = upload(web, "bad.csv", bad)
    assert preview.context["errors"] == [
        'line 2, input_per_1m: "abc" is not a number',
        'line 2, effective_from: "2026-13-01" is not a date (YYYY-MM-DD)',
    ]
    with within(priced):
        assert PriceVersion.objects.count() == 1

    applied = web.post(url("price-import-apply"), {"text": bad, "format": "csv", "label": "bad"})
    assert applied.status_code == 200 and len(applied.context["errors"]) == 2
    with within(priced):
        assert PriceVersion.objects.count() == 1

    for name, content, error in (
        (
            "prices.xlsx",
            b"PK",
            "“prices.xlsx” is not a price file: the name must end in .csv or .json.",
        ),
        (
            "prices.csv",
            b"provider\xff,model\n",
            "The file is not UTF-8 text (invalid byte at position 9).",
        ),
        ("prices.csv", b"", "The file is empty."),
    ):
        response = upload(web, name, content)
        assert dict(response.context["form"].errors) == {"file": [error]}
        assert error in html.unescape(response.content.decode())


def test_import_apply_needs_a_label(client_for, admin, priced):
    response = client_for(admin).post(
        url("price-import-apply"), {"text": CHANGES, "format": "csv", "label": ""}
    )
    assert response.status_code == 200
    assert dict(response.context["form"].errors) == {"label": ["This field is required."]}
    with within(priced):
        assert PriceVersion.objects.count() == 1


# Model aliases ----------------------------------------------------------------------------


def alias_data(**changes: str) -> dict:
    data = {
        "provider": "azure",
        "raw": "Prod-4o-Deployment",
        "canonical_provider": "openai",
        "canonical_model": "gpt-4o",
    }
    return {**data, **changes}


def test_alias_create_and_delete_with_audit(client_for, admin, priced):
    web = client_for(admin)
    response = web.post(url("alias-create"), alias_data())
    assert response.status_code == 302 and response["Location"] == url("alias-list")
    with within(priced):
        alias = ModelAlias.objects.get()
    assert (alias.provider, alias.raw, alias.canonical_provider, alias.canonical_model) == (
        "azure",
        "prod-4o-deployment",
        "openai",
        "gpt-4o",
    )
    listing = web.get(url("alias-list")).content.decode()
    assert "prod-4o-deployment" in listing

    confirm = web.get(url("alias-delete", alias_id=alias.pk))
    assert confirm.status_code == 200 and confirm.context["title"] == f"Delete the alias {alias}?"
    with within(priced):
        assert ModelAlias.objects.count() == 1
    deleted = web.post(url("alias-delete", alias_id=alias.pk))
    assert deleted["Location"] == url("alias-list")
    with within(priced):
        assert ModelAlias.objects.count() == 0
        events = list(AuditEvent.objects.filter(action__startswith="modelalias.").order_by("id"))
    assert [(e.action, e.object_repr) for e in events] == [
        ("modelalias.created", str(alias)),
        ("modelalias.deleted", str(alias)),
    ]


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        (
            {"canonical_model": "gpt-9"},
            {"canonical_model": ["the price book has no price for openai/gpt-9"]},
        ),
        (
            {"canonical_provider": "nonesuch"},
            {"canonical_provider": ['the price book has no prices for provider "nonesuch"']},
        ),
        ({"raw": ""}, {"raw": ["This field is required."]}),
    ],
)
def test_alias_validation_names_the_field(client_for, admin, priced, changes, errors):
    response = client_for(admin).post(url("alias-create"), alias_data(**changes))
    assert response.status_code == 200
    assert dict(response.context["form"].errors) == errors
    with within(priced):
        assert ModelAlias.objects.count() == 0


def test_alias_is_unique_per_provider_and_raw_name(client_for, admin, priced):
    web = client_for(admin)
    web.post(url("alias-create"), alias_data())
    twin = web.post(url("alias-create"), alias_data(raw="prod-4o-deployment "))
    assert dict(twin.context["form"].errors) == {
        "raw": ['an alias for "prod-4o-deployment" (azure) already exists']
    }
    any_provider = web.post(url("alias-create"), alias_data(provider=""))
    assert any_provider.status_code == 302
    with within(priced):
        assert sorted(ModelAlias.objects.values_list("provider", flat=True)) == ["", "azure"]


def test_an_alias_prices_usage_with_the_raw_name(client_for, admin, priced):
    from chargeback.usage.ingest import create_batch, process_batch
    from tests.usage.conftest import event, ndjson

    client_for(admin).post(url("alias-create"), alias_data())
    payload = ndjson([event("a-1", provider="azure", model="prod-4o-deployment")])
    with within(priced):
        batch = create_batch(organization=priced, payload=payload, fmt="ndjson", source="test")
    assert process_batch(batch.pk).accepted == 1


# Query counts -------------------------------------------------------------------------------


def count_queries(web, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert web.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_list_pages_do_not_grow_queries_with_rows(client_for, admin, org_a):
    web = client_for(admin)
    paths = [url("price-list"), url("version-list"), url("alias-list")]

    def grow(n: int) -> None:
        with within(org_a):
            for i in range(PriceVersion.objects.count(), n):
                prices(
                    org_a,
                    f"acme,m{i},2026-01-01,1,2,,,,,,USD,https://acme.example,\n",
                    label=f"v{i}",
                )
                ModelAlias.objects.create(
                    organization=org_a,
                    raw=f"raw-{i}",
                    canonical_provider="acme",
                    canonical_model=f"m{i}",
                )

    grow(1)
    one = [count_queries(web, p) for p in paths]
    grow(3)
    three = [count_queries(web, p) for p in paths]
    with within(org_a):
        assert (ModelPrice.objects.count(), ModelAlias.objects.count()) == (3, 3)
    assert three == one


def test_a_price_in_another_currency_is_refused_by_name(client_for, admin, priced):
    web = client_for(admin)
    euro = HEADER + "acme,acme-large,2026-01-01,3,9,,,,,,EUR,acme price sheet,2026-01-02\n"
    body = html.unescape(upload(web, "euro.csv", euro).content.decode())
    message = (
        "acme/acme-large from 2026-01-01: the price is in EUR, not the organisation's USD; "
        "convert it to USD (a price in EUR would price no event)"
    )
    assert message in body
    applied = web.post(url("price-import-apply"), {"text": euro, "format": "csv", "label": "x"})
    assert applied.status_code == 200 and message in html.unescape(applied.content.decode())
    with within(priced):
        assert not ModelPrice.objects.filter(model="acme-large").exists()
