"""The usage pages, as the personas: ingestion keys, uploads, batches and the quarantine."""

from __future__ import annotations

import hashlib
import html
import json
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chargeback.audit.models import AuditEvent
from chargeback.pricing.books import load_default_prices
from chargeback.tenancy.models import Organization
from chargeback.tenancy.scoping import within
from chargeback.usage.ingest import create_batch, process_batch
from chargeback.usage.keys import check_key, create_key, revoke_key
from chargeback.usage.models import (
    BatchStatus,
    IngestBatch,
    IngestionKey,
    QuarantinedEvent,
    QuarantineStatus,
    UsageEvent,
)
from chargeback.usage.records import FORMATS
from tests.usage import otel_spans
from tests.usage.conftest import event, ndjson
from tests.usage.litellm_rows import mixed_export

PERSONAS = ("admin", "finance", "viewer", "team_lead")


def url(name: str, **kwargs: object) -> str:
    return reverse(f"usage:{name}", kwargs={"org_slug": "alpha", **kwargs})


def messages_of(response) -> list[str]:
    return [m.message for m in get_messages(response.wsgi_request)]


def actions(org) -> list[str]:
    with within(org):
        return list(
            AuditEvent.objects.filter(organization=org)
            .order_by("id")
            .values_list("action", flat=True)
        )


def in_alpha():
    """The scope of org_a ("alpha"), the organisation these tests work in."""
    return within(Organization.objects.get(slug="alpha"))


@pytest.fixture
def priced(org_a):
    """org_a (with its CENTRAL unit) and the default price book."""
    with within(org_a):
        load_default_prices(org_a, actor="test")
    return org_a


def bad_batch(org, records: list) -> IngestBatch:
    """A processed batch from NDJSON records (dicts or raw lines): stored in the organisation's
    scope, as the upload view does; `process_batch` enters it itself, as the worker does."""
    with within(org):
        batch = create_batch(organization=org, payload=ndjson(records), fmt="ndjson", source="test")
    return process_batch(batch.pk)


@pytest.fixture
def quarantined(priced):
    """One batch: one good event, two records missing input_tokens, one with an unpriced model."""
    no_tokens = {k: v for k, v in event("q-1").items() if k != "input_tokens"}
    no_tokens_2 = {**no_tokens, "request_id": "q-2"}
    batch = bad_batch(
        priced, [event("ok-1"), no_tokens, no_tokens_2, event("q-3", model="nonesuch-9")]
    )
    assert (batch.accepted, batch.quarantined) == (1, 3)
    return batch


def item(request_id: str) -> QuarantinedEvent:
    with in_alpha():
        return QuarantinedEvent.objects.get(request_id=request_id)


# Who may open what -------------------------------------------------------------------------

PAGES = [
    # (url name, kwargs key, roles that may open it)
    ("ingestionkey-list", None, {"admin"}),
    ("ingestionkey-create", None, {"admin"}),
    ("ingestionkey-revoke", "ingestion_key_id", {"admin"}),
    ("batch-upload", None, {"admin", "finance"}),
    ("batch-list", None, {"admin", "finance"}),
    ("batch-detail", "batch_id", {"admin", "finance"}),
    ("quarantine-list", None, {"admin", "finance"}),
    ("quarantine-detail", "quarantine_id", {"admin", "finance"}),
    ("quarantine-replay-all", None, {"admin", "finance"}),
]


@pytest.mark.parametrize("persona", PERSONAS)
def test_pages_open_for_allowed_roles_and_are_forbidden_to_others(
    request, client_for, quarantined, persona
):
    web = client_for(request.getfixturevalue(persona))
    with within(quarantined.organization):
        key, _ = create_key(organization=quarantined.organization, name="gateway", actor="test")
    ids = {
        "ingestion_key_id": key.pk,
        "batch_id": quarantined.pk,
        "quarantine_id": item("q-1").pk,
    }
    seen = {}
    for name, kwarg, _allowed in PAGES:
        kwargs = {kwarg: ids[kwarg]} if kwarg else {}
        query = "?reason=missing_field" if name == "quarantine-replay-all" else ""
        seen[name] = web.get(url(name, **kwargs) + query).status_code
    assert seen == {name: 200 if persona in allowed else 403 for name, _k, allowed in PAGES}


@pytest.mark.parametrize("persona", ("viewer", "team_lead"))
def test_actions_are_forbidden_without_the_permission(request, client_for, quarantined, persona):
    web = client_for(request.getfixturevalue(persona))
    q = item("q-1")
    posts = [
        url("quarantine-fix", quarantine_id=q.pk),
        url("quarantine-replay"),
        url("quarantine-discard"),
        url("quarantine-replay-all"),
        url("ingestionkey-create"),
    ]
    assert [web.post(u, {"ids": [q.pk], "raw": "{}"}).status_code for u in posts] == [403] * 5
    with in_alpha():
        assert QuarantinedEvent.objects.filter(status=QuarantineStatus.OPEN).count() == 3


def test_bad_input_never_fails(client_for, admin, quarantined):
    web = client_for(admin)
    for path in (
        url("batch-list") + "?page=abc",
        url("batch-list") + "?page=99999",
        url("ingestionkey-list") + "?page=-1",
        url("quarantine-list") + "?page=0&status=bogus&reason=%00x&batch=abc",
        url("quarantine-list") + "?batch=99999999999999999999999",
        url("quarantine-discard") + "?ids=abc&ids=99999999999999999999999",
        url("quarantine-replay-all") + "?reason=&batch=x",
    ):
        assert web.get(path).status_code in (200, 302), path
    for path in (
        url("batch-detail", batch_id=999999),
        url("quarantine-detail", quarantine_id=999999),
        url("ingestionkey-revoke", ingestion_key_id=999999),
    ):
        assert web.get(path).status_code == 404, path
    response = web.post(url("quarantine-replay"), {"ids": ["x", "-1", ""]})
    assert response.status_code == 302
    assert messages_of(response) == ["Select at least one open record to replay."]


# Ingestion keys ----------------------------------------------------------------------------


def test_a_new_key_is_shown_once_and_only_its_hash_is_stored(client_for, admin, org_a, settings):
    settings.SITE_URL = "https://chargeback.example"
    web = client_for(admin)
    response = web.post(url("ingestionkey-create"), {"name": "LiteLLM production"})
    assert response.status_code == 200
    secret = response.context["secret"]
    body = response.content.decode()
    assert secret.startswith("cbk_") and secret in body
    assert "shown only this once" in body
    assert (
        # the host in use, not SITE_URL (the demo runs on another port than SITE_URL's)
        f'curl -X POST http://testserver/api/v1/usage-events -H "Authorization: Bearer {secret}" '
        '-H "Content-Type: application/x-ndjson" --data-binary @events.ndjson'
    ) in html.unescape(body)
    assert "no-store" in response["Cache-Control"]

    with within(org_a):
        key = IngestionKey.objects.get(organization=org_a)
        stored = [str(v) for v in IngestionKey.objects.filter(pk=key.pk).values().get().values()]
    assert key.hashed == hashlib.sha256(secret.encode()).hexdigest()
    assert [v for v in stored if secret in v] == []
    assert check_key(secret) == (key, "")

    listing = web.get(url("ingestionkey-list")).content.decode()
    assert "LiteLLM production" in listing and f"cbk_{key.prefix}_" in listing
    assert secret not in listing
    assert actions(org_a) == ["ingestionkey.created"]


def test_the_same_key_form_sent_twice_makes_one_key_and_shows_no_secret(client_for, admin, org_a):
    """Reloading the page that showed the secret re-sends the form: no second key."""
    web = client_for(admin)
    form = web.get(url("ingestionkey-create")).context["form"]
    nonce = form["nonce"].initial
    first = web.post(url("ingestionkey-create"), {"name": "gateway", "nonce": nonce})
    secret = first.context["secret"]
    again = web.post(url("ingestionkey-create"), {"name": "gateway", "nonce": nonce})
    assert again.status_code == 200 and again.context["again"] is True
    body = again.content.decode()
    assert secret not in body and "no second key was made" in body
    with within(org_a):
        assert IngestionKey.objects.filter(organization=org_a).count() == 1
    other = web.post(url("ingestionkey-create"), {"name": "gateway 2", "nonce": "fresh-form"})
    assert other.context["secret"] != secret
    with within(org_a):
        assert IngestionKey.objects.filter(organization=org_a).count() == 2


def test_active_keys_have_distinct_names(client_for, admin, org_a, org_b):
    web = client_for(admin)
    with within(org_a):
        key, _ = create_key(organization=org_a, name="LiteLLM prod", actor="test")
    with within(org_b):
        create_key(organization=org_b, name="Bravo gateway", actor="test")
    taken = web.post(url("ingestionkey-create"), {"name": " litellm PROD "})
    assert taken.status_code == 200
    assert (
        taken.context["form"]
        .errors["name"][0]
        .startswith("An active key is already named “litellm PROD”")
    )
    assert "secret" in web.post(url("ingestionkey-create"), {"name": "Bravo gateway"}).context
    with within(org_a):
        revoke_key(key=key, actor="test")
    assert "secret" in web.post(url("ingestionkey-create"), {"name": "LiteLLM prod"}).context


def test_a_key_needs_a_name(client_for, admin, org_a):
    response = client_for(admin).post(url("ingestionkey-create"), {"name": "  "})
    assert response.status_code == 200
    assert dict(response.context["form"].errors) == {"name": ["This field is required."]}
    with within(org_a):
        assert IngestionKey.objects.count() == 0


def test_revoke_asks_first_then_revokes(client_for, admin, org_a):
    web = client_for(admin)
    with within(org_a):
        key, secret = create_key(organization=org_a, name="old gateway", actor="test")
    confirm = web.get(url("ingestionkey-revoke", ingestion_key_id=key.pk))
    assert confirm.status_code == 200
    assert confirm.context["title"] == f"Revoke ingestion key {key}?"
    key.refresh_from_db()
    assert key.active

    response = web.post(url("ingestionkey-revoke", ingestion_key_id=key.pk))
    assert response.status_code == 302 and response["Location"] == url("ingestionkey-list")
    key.refresh_from_db()
    assert not key.active
    assert check_key(secret) == (None, "this key was revoked")
    assert actions(org_a) == ["ingestionkey.created", "ingestionkey.revoked"]

    again = web.get(url("ingestionkey-revoke", ingestion_key_id=key.pk))
    assert again.status_code == 302
    assert messages_of(again)[-1] == f"The key {key} is already revoked."
    assert "Revoked" in web.get(url("ingestionkey-list")).content.decode()


# Upload ------------------------------------------------------------------------------------


def upload(web, name: str, content: bytes, fmt: str = ""):
    return web.post(url("batch-upload"), {"file": SimpleUploadedFile(name, content), "format": fmt})


def test_upload_ingests_the_file_and_shows_its_batch(
    client_for, finance, priced, django_capture_on_commit_callbacks
):
    web = client_for(finance)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(web, "october.ndjson", ndjson([event("up-1"), event("up-2")]))
    with within(priced):
        batch = IngestBatch.objects.get(organization=priced)
        request_ids = sorted(UsageEvent.objects.values_list("request_id", flat=True))
    assert response.status_code == 302
    assert response["Location"] == url("batch-detail", batch_id=batch.pk)
    assert (batch.status, batch.source, batch.format, batch.filename) == (
        "done",
        "upload",
        "ndjson",
        "october.ndjson",
    )
    assert (batch.received, batch.accepted, batch.duplicates, batch.quarantined) == (2, 2, 0, 0)
    assert batch.created_by == "finance@alpha.example"
    assert request_ids == ["up-1", "up-2"]

    page = web.get(response["Location"])
    assert page.status_code == 200
    assert b'<progress max="100" value="100"' in page.content
    assert b"hx-trigger" not in page.content


def test_upload_reads_csv_and_json_by_extension(
    client_for, finance, priced, django_capture_on_commit_callbacks
):
    web = client_for(finance)
    csv_text = (
        "request_id,occurred_at,provider,model,input_tokens,output_tokens,team\n"
        "c-1,2026-10-03T14:22:05Z,openai,gpt-4o-mini,100,10,support\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        upload(web, "usage.CSV", csv_text.encode())
        upload(web, "usage.json", json.dumps([event("j-1"), event("j-2")]).encode())
        upload(web, "usage.txt.jsonl", ndjson([event("n-1")]))
    with within(priced):
        batches = list(IngestBatch.objects.order_by("pk"))
    assert [(b.format, b.received, b.accepted) for b in batches] == [
        ("csv", 1, 1),
        ("json", 2, 2),
        ("ndjson", 1, 1),
    ]


CSV_NO_MODEL = b"request_id,occurred_at,provider,input_tokens,output_tokens\n"


@pytest.mark.parametrize(
    ("name", "content", "fmt", "error"),
    [
        ("empty.ndjson", b"", "", "The file is empty."),
        ("blank.ndjson", b"\n\n  \n", "", "The file is empty: it holds only blank lines."),
        (
            "usage.xlsx",
            b"PK\x03\x04",
            "",
            "“usage.xlsx” is not a usage file: the name must end in .csv, .ndjson, .jsonl or .json.",
        ),
        (
            "usage.csv",
            CSV_NO_MODEL,
            "",
            "The CSV header is missing the column(s) model. The first line must name the columns.",
        ),
        (
            "usage.dat.ndjson",
            CSV_NO_MODEL,
            "csv",
            "The CSV header is missing the column(s) model. The first line must name the columns.",
        ),
        (
            "latin1.csv",
            "request_id,occurred_at,provider,model,input_tokens,output_tokens,équipe\n".encode(
                "latin-1"
            ),
            "",
            "The file is not UTF-8 text: the first line has an invalid byte at position 66. Save it as UTF-8 and upload it again.",
        ),
        (
            "array.ndjson",
            b"[\n" + json.dumps(event("a")).encode() + b"\n]\n",
            "",
            "This looks like a JSON array, not NDJSON (one object per line): choose the JSON format or name the file .json.",
        ),
    ],
)
def test_upload_errors_are_clear_and_create_nothing(
    client_for, finance, priced, name, content, fmt, error
):
    response = upload(client_for(finance), name, content, fmt)
    assert response.status_code == 200
    assert dict(response.context["form"].errors) == {"file": [error]}
    assert error in html.unescape(response.content.decode())
    with within(priced):
        assert IngestBatch.objects.count() == 0


def test_upload_over_the_limit_names_the_limit(client_for, finance, priced, settings):
    settings.INGEST_MAX_BYTES = 100  # the upload limit is ten times this: 1000 bytes
    response = upload(
        client_for(finance), "big.ndjson", ndjson([event(f"big-{i}") for i in range(10)])
    )
    assert dict(response.context["form"].errors) == {
        "file": [
            "The file is 1.6\xa0KB; the limit is 1000\xa0bytes (1,000 bytes). Split it into smaller files."
        ]
    }
    with within(priced):
        assert IngestBatch.objects.count() == 0


def test_upload_without_a_file(client_for, finance, priced):
    response = client_for(finance).post(url("batch-upload"), {"format": "csv"})
    assert dict(response.context["form"].errors) == {"file": ["Choose a file to upload."]}


# Batches -----------------------------------------------------------------------------------


def test_batch_list_is_newest_first_with_counts(client_for, finance, quarantined):
    later = bad_batch(quarantined.organization, [event("later-1")])
    response = client_for(finance).get(url("batch-list"))
    assert [b.pk for b in response.context["page"]] == [later.pk, quarantined.pk]
    body = response.content.decode()
    assert f'href="{url("batch-detail", batch_id=quarantined.pk)}"' in body
    assert f"{url('quarantine-list')}?batch={quarantined.pk}&amp;status=all" in body


def test_batch_detail_polls_while_running_and_its_partial_stops_when_done(
    client_for, finance, priced
):
    web = client_for(finance)
    with within(priced):
        batch = create_batch(
            organization=priced, payload=ndjson([event("p-1")]), fmt="ndjson", source="test"
        )
    page = web.get(url("batch-detail", batch_id=batch.pk))
    assert page.status_code == 200
    assert (
        f'hx-get="{url("batch-detail", batch_id=batch.pk)}" hx-trigger="every 1s"'.encode()
        in page.content
    )

    partial = web.get(url("batch-detail", batch_id=batch.pk), HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert body.strip().startswith('<section id="progress"')
    assert 'hx-trigger="every 1s"' in body and "<html" not in body
    assert "HX-Refresh" not in partial

    process_batch(batch.pk)
    done = web.get(url("batch-detail", batch_id=batch.pk), HTTP_HX_REQUEST="true")
    assert "hx-trigger" not in done.content.decode()
    assert '<progress max="100" value="100"' in done.content.decode()
    assert done["HX-Refresh"] == "true"


def test_batch_detail_lists_its_quarantined_records(client_for, finance, quarantined):
    response = client_for(finance).get(url("batch-detail", batch_id=quarantined.pk))
    assert [q.request_id for q in response.context["quarantined"]] == ["q-1", "q-2", "q-3"]
    assert response.context["quarantined_count"] == 3
    assert "input_tokens</code>: required" in response.content.decode()


def test_a_batch_with_no_records_says_so(client_for, finance, priced):
    header_only = b"request_id,occurred_at,provider,model,input_tokens,output_tokens\n"
    with within(priced):
        batch = create_batch(organization=priced, payload=header_only, fmt="csv", source="test")
    assert process_batch(batch.pk).received == 0
    body = client_for(finance).get(url("batch-detail", batch_id=batch.pk)).content.decode()
    assert "None: the batch held no records." in body
    assert "every record was accepted" not in body


def test_batches_say_where_they_came_from_in_words(client_for, finance, priced):
    with within(priced):
        for source, by in (("api", "key:LiteLLM prod"), ("cli", "command:ingest_events")):
            create_batch(
                organization=priced, payload=b"", fmt="ndjson", source=source, created_by=by
            )
    listing = html.unescape(client_for(finance).get(url("batch-list")).content.decode())
    assert "<td>API</td>" in listing and "ingestion key “LiteLLM prod”" in listing
    assert "<td>Command line</td>" in listing and "the ingest_events command" in listing
    assert "key:LiteLLM" not in listing


def test_failed_batch_shows_its_error(client_for, finance, priced):
    with within(priced):
        batch = create_batch(organization=priced, payload=b"{not json", fmt="json", source="test")
    batch = process_batch(batch.pk)
    assert batch.status == BatchStatus.FAILED
    response = client_for(finance).get(url("batch-detail", batch_id=batch.pk))
    assert batch.error in response.content.decode()


# Quarantine --------------------------------------------------------------------------------


def listed(response) -> list[str]:
    return [q.request_id for q in response.context["page"]]


def test_quarantine_filters(client_for, finance, quarantined):
    web = client_for(finance)
    other = bad_batch(quarantined.organization, ["{broken"])
    response = web.get(url("quarantine-list"))
    assert sorted(listed(response)) == ["", "q-1", "q-2", "q-3"]
    assert response.context["reasons"] == [
        {"reason": "malformed", "n": 1, "label": "Not valid JSON or CSV"},
        {"reason": "missing_field", "n": 2, "label": "A required field is missing"},
        {"reason": "no_price", "n": 1, "label": "No price for the model"},
    ]
    assert "A required field is missing (2)" in response.content.decode()
    assert sorted(listed(web.get(url("quarantine-list"), {"reason": "missing_field"}))) == [
        "q-1",
        "q-2",
    ]
    assert listed(web.get(url("quarantine-list"), {"batch": other.pk})) == [""]
    assert listed(web.get(url("quarantine-list"), {"status": "discarded"})) == []
    body = web.get(url("quarantine-list"), {"reason": "no_price"}).content.decode()
    assert "q-3" in body and "no price for openai/nonesuch-9" in body
    assert "<details><summary>Raw record</summary>" in body


def test_a_batch_filter_that_is_not_a_number_says_so(client_for, finance, quarantined):
    web = client_for(finance)
    every = len(web.get(url("quarantine-list")).context["page"].object_list)
    response = web.get(url("quarantine-list"), {"batch": "abc"})
    assert response.status_code == 200 and len(response.context["page"].object_list) == every
    assert "The batch filter takes a batch number: showing every batch." in (
        response.content.decode()
    )


def test_actions_on_a_filtered_list_come_back_to_it(client_for, finance, quarantined):
    web = client_for(finance)
    page = web.get(url("quarantine-list"), {"reason": "missing_field", "status": "open"})
    assert 'name="filters" value="reason=missing_field&amp;status=open"' in page.content.decode()
    filtered = url("quarantine-list") + "?reason=missing_field&status=open"
    empty = web.post(url("quarantine-replay"), {"filters": "reason=missing_field&status=open"})
    assert empty["Location"] == filtered
    q = item("q-1")
    confirm = web.post(url("quarantine-discard"), {"ids": q.pk, "filters": "reason=missing_field"})
    assert 'name="filters" value="reason=missing_field"' in confirm.content.decode()
    done = web.post(
        url("quarantine-discard"),
        {"ids": q.pk, "confirm": "1", "reason": "test data", "filters": "reason=missing_field&x=1"},
    )
    assert done["Location"] == url("quarantine-list") + "?reason=missing_field"


def test_fix_a_record_then_replay_it(
    client_for, finance, quarantined, django_capture_on_commit_callbacks
):
    web = client_for(finance)
    q = item("q-1")
    page = web.get(url("quarantine-detail", quarantine_id=q.pk))
    assert json.loads(page.context["form"].initial["raw"]) == json.loads(q.raw)

    bad = web.post(
        url("quarantine-fix", quarantine_id=q.pk), {"raw": '{"request_id": "q-1",', "save": "1"}
    )
    assert bad.status_code == 200
    assert list(bad.context["form"].errors) == ["raw"]
    assert bad.context["form"].errors["raw"][0].startswith("not valid JSON")

    fixed = {**json.loads(q.raw), "input_tokens": 50}
    saved = web.post(
        url("quarantine-fix", quarantine_id=q.pk), {"raw": json.dumps(fixed), "save": "1"}
    )
    assert saved.status_code == 302 and saved["Location"] == url(
        "quarantine-detail", quarantine_id=q.pk
    )
    q.refresh_from_db()
    assert (json.loads(q.raw)["input_tokens"], q.status) == (50, "open")

    with django_capture_on_commit_callbacks(execute=True):
        replayed = web.post(
            url("quarantine-fix", quarantine_id=q.pk), {"raw": json.dumps(fixed), "replay": "1"}
        )
    q.refresh_from_db()
    assert q.status == "replayed"
    assert replayed["Location"] == url("batch-detail", batch_id=q.replayed_in_id)
    assert messages_of(replayed)[-1].startswith(f"Replayed 1 record as batch {q.replayed_in_id}.")
    with in_alpha():
        batch = IngestBatch.objects.get(pk=q.replayed_in_id)
        assert UsageEvent.objects.get(request_id="q-1").input_tokens == 50
    assert (batch.source, batch.accepted) == ("replay", 1)


def test_a_fix_that_would_fail_again_is_saved_but_not_replayed(client_for, finance, quarantined):
    web = client_for(finance)
    q = item("q-1")
    still_bad = {
        **json.loads(q.raw),
        "input_tokens": 50,
        "model": "nonesuch-9",
        "output_tokens": -3,
    }
    response = web.post(
        url("quarantine-fix", quarantine_id=q.pk), {"raw": json.dumps(still_bad), "replay": "1"}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["raw"]
    assert any(e.startswith("output_tokens:") for e in errors), errors
    assert messages_of(response) == [
        "Your change was saved, but the record would still be quarantined, so it was not "
        "replayed. Fix what is listed below, or fix the cause (a price, an alias, a key mapping) "
        "and replay it then."
    ]
    q.refresh_from_db()
    assert (q.status, json.loads(q.raw)["output_tokens"]) == ("open", -3)
    with in_alpha():
        assert IngestBatch.objects.filter(source="replay").count() == 0

    no_price = {**still_bad, "output_tokens": 5}
    response = web.post(
        url("quarantine-fix", quarantine_id=q.pk), {"raw": json.dumps(no_price), "replay": "1"}
    )
    assert response.context["form"].errors["raw"] == [
        f"model: no price for openai/nonesuch-9 on {no_price['occurred_at'][:10]}"
    ]
    with in_alpha():
        assert IngestBatch.objects.filter(source="replay").count() == 0


def test_replay_selected(client_for, finance, quarantined, django_capture_on_commit_callbacks):
    web = client_for(finance)
    ids = [item("q-1").pk, item("q-3").pk]
    with django_capture_on_commit_callbacks(execute=True):
        response = web.post(url("quarantine-replay"), {"ids": ids})
    with in_alpha():
        new = IngestBatch.objects.filter(source="replay").get()
        again = QuarantinedEvent.objects.filter(batch=new).values_list("request_id", flat=True)
        again = sorted(again)
    assert response["Location"] == url("batch-detail", batch_id=new.pk)
    assert messages_of(response) == [
        f"Replayed 2 records as batch {new.pk}. Records that fail again come back to the quarantine in that batch."
    ]
    # unchanged, both fail again and come back in the new batch
    assert (new.received, new.quarantined) == (2, 2)
    assert again == ["q-1", "q-3"]
    assert item_status("q-2") == "open"


def item_status(request_id: str) -> str:
    with in_alpha():
        return QuarantinedEvent.objects.filter(request_id=request_id).order_by("pk").first().status


def test_replay_all_with_a_reason_asks_with_the_count(client_for, finance, quarantined):
    web = client_for(finance)
    confirm = web.get(url("quarantine-replay-all"), {"reason": "missing_field"})
    assert confirm.status_code == 200
    assert confirm.context["count"] == 2
    assert confirm.context["title"] == "Replay all 2 open records with the reason “missing_field”?"
    with in_alpha():
        assert QuarantinedEvent.objects.filter(status="open").count() == 3

    response = web.post(url("quarantine-replay-all"), {"reason": "missing_field"})
    with in_alpha():
        new = IngestBatch.objects.filter(source="replay").get()
        replayed = QuarantinedEvent.objects.filter(replayed_in=new)
        assert sorted(replayed.values_list("request_id", flat=True)) == ["q-1", "q-2"]
    assert response["Location"] == url("batch-detail", batch_id=new.pk)
    nothing = web.get(url("quarantine-replay-all"), {"reason": "missing_field"})
    assert nothing.status_code == 302


def test_discard_selected_needs_a_reason_and_a_confirmation(client_for, finance, quarantined):
    web = client_for(finance)
    ids = [item("q-1").pk, item("q-2").pk]
    confirm = web.post(url("quarantine-discard"), {"ids": ids})
    assert confirm.status_code == 200
    assert confirm.context["title"] == "Discard 2 records?"
    assert item_status("q-1") == "open"

    no_reason = web.post(url("quarantine-discard"), {"ids": ids, "confirm": "1", "reason": "no"})
    assert no_reason.status_code == 200
    assert no_reason.context["form"].errors["reason"] == [
        "Say why these records are discarded (at least 5 characters)."
    ]
    assert item_status("q-1") == "open"

    done = web.post(
        url("quarantine-discard"),
        {"ids": ids, "confirm": "1", "reason": "test traffic from a load test"},
    )
    assert done["Location"] == url("quarantine-list")
    assert messages_of(done) == ["Discarded 2 records."]
    assert [item_status(r) for r in ("q-1", "q-2", "q-3")] == ["discarded", "discarded", "open"]
    assert item("q-1").resolution_note == "test traffic from a load test"
    assert actions(quarantined.organization)[-1] == "quarantine.discarded"
    listing = web.get(url("quarantine-list"), {"status": "discarded"})
    assert sorted(listed(listing)) == ["q-1", "q-2"]


def test_discard_one_record_from_its_page(client_for, finance, quarantined):
    web = client_for(finance)
    q = item("q-3")
    assert (
        f"{url('quarantine-discard')}?ids={q.pk}"
        in web.get(url("quarantine-detail", quarantine_id=q.pk)).content.decode()
    )
    confirm = web.get(url("quarantine-discard"), {"ids": q.pk})
    assert confirm.context["title"] == "Discard 1 record?"
    web.post(
        url("quarantine-discard"),
        {"ids": q.pk, "confirm": "1", "reason": "model was a typo in a test"},
    )
    assert item_status("q-3") == "discarded"
    page = web.get(url("quarantine-detail", quarantine_id=q.pk)).content.decode()
    assert "model was a typo in a test" in page and "Save and replay" not in page
    late = web.post(url("quarantine-fix", quarantine_id=q.pk), {"raw": "{}", "replay": "1"})
    assert late["Location"] == url("quarantine-detail", quarantine_id=q.pk)
    assert messages_of(late)[-1] == "This record is already discarded."
    with in_alpha():
        assert IngestBatch.objects.filter(source="replay").count() == 0


# Query counts -------------------------------------------------------------------------------


def count_queries(web, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert web.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_list_pages_do_not_grow_queries_with_rows(client_for, admin, priced):
    web = client_for(admin)

    def grow(n: int) -> None:
        with within(priced):
            while IngestionKey.objects.count() < n:
                create_key(organization=priced, name=f"key {n}", actor="test")
                i = IngestBatch.objects.count()
                bad_batch(priced, [{**event(f"g-{i}"), "model": "nonesuch"}])

    paths = [url("ingestionkey-list"), url("batch-list"), url("quarantine-list")]
    grow(1)
    one = [count_queries(web, p) for p in paths]
    grow(3)
    three = [count_queries(web, p) for p in paths]
    with within(priced):
        assert QuarantinedEvent.objects.count() == 3
    assert three == one


def test_every_reason_the_pipeline_gives_has_a_label():
    """The quarantine filter names each reason code; a new code needs a label."""
    import re
    from pathlib import Path

    from chargeback.usage.quarantine_views import REASON_LABELS

    root = Path(__file__).resolve().parents[2] / "chargeback" / "usage"
    codes = set()
    for name in ("validation.py", "records.py", "pipeline.py"):
        text = (root / name).read_text()
        codes |= set(re.findall(r'"([a-z]+(?:_[a-z]+)+|malformed|encoding)",?\s*\)', text))
        codes |= set(re.findall(r'code: str = "([a-z_]+)"', text))
    codes = {
        c
        for c in codes
        if c in REASON_LABELS
        or c.split("_")[0] in ("missing", "bad", "no", "future", "unknown", "conflicting")
    }
    assert codes and codes <= set(REASON_LABELS), codes - set(REASON_LABELS)


def test_gateway_and_ingestion_key_pages_tell_the_two_apart(client_for, admin, finance, org_a):
    gateway_keys = reverse("units:gatewaykey-list", args=[org_a.slug])
    link = f'href="{url("ingestionkey-list")}"'
    as_admin = client_for(admin).get(gateway_keys).content.decode()
    assert link in as_admin
    as_finance = client_for(finance).get(gateway_keys).content.decode()
    assert link not in as_finance and "ingestion keys, which admins manage" in as_finance
    ingestion = client_for(admin).get(url("ingestionkey-list")).content.decode()
    assert f'href="{gateway_keys}"' in ingestion


def test_a_batch_knows_about_how_many_records_it_holds(client_for, finance, priced):
    """The progress bar moves: the total is counted (NDJSON lines, CSV rows) when processing
    starts; a JSON document has none, and its bar is indeterminate while it runs."""
    with within(priced):
        ndjson_batch = create_batch(
            organization=priced, payload=ndjson([event("t1"), event("t2"), event("t3")]),
            fmt="ndjson", source="test",
        )  # fmt: skip
        csv_batch = create_batch(
            organization=priced,
            payload=b"request_id,occurred_at,provider,model,input_tokens,output_tokens\n"
            b"c1,2026-10-03T14:22:05Z,openai,gpt-4o-mini,10,5\nc2,2026-10-03T14:22:05Z,openai,gpt-4o-mini,10,5",
            fmt="csv", source="test",
        )  # fmt: skip
        json_batch = create_batch(
            organization=priced, payload=json.dumps([event("j1")]).encode(), fmt="json", source="t"
        )
    assert process_batch(ndjson_batch.pk).records_total == 3
    assert process_batch(csv_batch.pk).records_total == 2
    assert process_batch(json_batch.pk).records_total is None
    with within(priced):
        running = IngestBatch.objects.get(pk=ndjson_batch.pk)
        running.status, running.records_done = "processing", 1
        assert running.progress_percent == 33
        IngestBatch.objects.filter(pk=json_batch.pk).update(status="processing")
    page = client_for(finance).get(url("batch-detail", batch_id=json_batch.pk)).content.decode()
    assert '<progress aria-label="Progress">working…</progress>' in page


def stored_payload(batch: IngestBatch) -> bytes:
    with batch.payload.open("rb") as f:
        return f.read()


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("spend.json", ""),  # detected: a JSON array of LiteLLM rows
        ("spend.ndjson", ""),  # detected: LiteLLM rows, one per line
        ("spend.json", "litellm"),  # chosen
    ],
)
def test_upload_reads_litellm_spend_logs_without_their_message_text(
    client_for, finance, litellm_org, django_capture_on_commit_callbacks, name, fmt
):
    rows, expected = mixed_export()
    if name.endswith(".ndjson"):
        content = b"".join(json.dumps(r).encode() + b"\n" for r in rows)
    else:
        content = json.dumps(rows).encode()
    assert b"SECRET" in content
    web = client_for(finance)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(web, name, content, fmt)
    assert response.status_code == 302
    with within(litellm_org):
        batch = IngestBatch.objects.get()
        costs = {e.request_id: e.cost for e in UsageEvent.objects.all()}
    assert (batch.format, batch.received, batch.accepted, batch.quarantined) == (
        "litellm", 8, 8, 0,
    )  # fmt: skip
    assert costs == {rid: Decimal(c).quantize(Decimal("1e-12")) for rid, c in expected.items()}
    assert b"SECRET" not in stored_payload(batch)


@pytest.mark.parametrize("fmt", ["", "otel"])
def test_upload_reads_otlp_traces_as_the_api_does(
    client_for, finance, litellm_org, django_capture_on_commit_callbacks, fmt
):
    content = json.dumps(otel_spans.document(broken=True)).encode()
    assert b"SECRET" in content
    web = client_for(finance)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(web, "traces.json", content, fmt)
    assert response.status_code == 302
    with within(litellm_org):
        batch = IngestBatch.objects.get()
        outcome = {
            e.request_id: (e.unit.code, str(e.cost.normalize())) for e in UsageEvent.objects.all()
        }
        quarantined = list(QuarantinedEvent.objects.values_list("raw", flat=True))
    assert (batch.format, batch.accepted, batch.quarantined) == ("otel", 4, 1)
    assert outcome == otel_spans.EXPECTED
    assert b"SECRET" not in stored_payload(batch)
    assert not any("SECRET" in raw for raw in quarantined)


def test_upload_offers_every_format_ingest_events_reads(client_for, finance, priced):
    page = client_for(finance).get(url("batch-upload"))
    offered = [value for value, _label in page.context["form"].fields["format"].choices]
    assert offered == ["", "csv", "ndjson", "json", "litellm", "otel"]
    assert set(offered) - {""} == set(FORMATS)


def test_an_otel_upload_that_is_not_an_otlp_document_is_refused(client_for, finance, priced):
    response = upload(
        client_for(finance), "traces.json", json.dumps([event("o-1")]).encode(), "otel"
    )
    assert dict(response.context["form"].errors) == {
        "file": [
            "An OpenTelemetry file must hold one OTLP/JSON document (a JSON object with "
            "“resourceSpans”, it starts with “{”)."
        ]
    }


def test_a_litellm_upload_that_cannot_be_read_is_refused_and_nothing_stored(
    client_for, finance, priced
):
    response = upload(client_for(finance), "spend.json", b"[\n\xff]", "litellm")
    assert response.status_code == 200
    assert dict(response.context["form"].errors) == {
        "file": ["The file cannot be read to remove message text: not UTF-8 (byte 2)."]
    }
    with within(priced):
        assert IngestBatch.objects.count() == 0
