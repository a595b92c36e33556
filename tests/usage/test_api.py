import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from chargeback.tenancy.scoping import within
from chargeback.usage.ingest import process_batch
from chargeback.usage.keys import create_key, revoke_key
from chargeback.usage.models import IngestBatch, IngestionKey, QuarantinedEvent, UsageEvent
from tests.usage.conftest import event, ndjson

URL = "/api/v1/usage-events"


@pytest.fixture
def key(priced_org):
    with within(priced_org):
        key, secret = create_key(organization=priced_org, name="gateway", actor="test")
    return key, secret


def post(client, secret, body, content_type="application/json", **extra):
    return client.generic(
        "POST", URL, body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {secret}", **extra
    )


def test_post_json_array_answers_202_and_processes(client, key, priced_org):
    _key, secret = key
    response = post(client, secret, json.dumps([event("a1"), event("a2")]))
    assert response.status_code == 202
    batch_id = response.json()["batch_id"]
    batch = process_batch(batch_id)  # tests run inside a transaction: on-commit tasks do not fire
    assert (batch.source, batch.received, batch.accepted) == ("api", 2, 2)
    status = client.get(f"/api/v1/ingest-batches/{batch_id}", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert status.status_code == 200
    assert {k: status.json()[k] for k in ("status", "received", "accepted", "duplicates", "quarantined")} == {
        "status": "done", "received": 2, "accepted": 2, "duplicates": 0, "quarantined": 0,
    }  # fmt: skip


def test_post_ndjson(client, key):
    _key, secret = key
    response = post(
        client, secret, ndjson([event("n1"), "{bad"]), content_type="application/x-ndjson"
    )
    assert response.status_code == 202
    batch = process_batch(response.json()["batch_id"])
    assert (batch.received, batch.accepted, batch.quarantined) == (2, 1, 1)
    with within(batch.organization):
        q = QuarantinedEvent.objects.get(batch=batch)
    assert q.reasons[0]["problem"].startswith("malformed JSON at line 2")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "detail"),
    [
        ('[{"a":', "application/json", 400, "Malformed JSON at line 1, column 7: Expecting value."),
        (
            "",
            "application/json",
            400,
            "The body is empty: send a JSON array of events or NDJSON lines.",
        ),
        (
            "   \n",
            "application/x-ndjson",
            400,
            "The body is empty: send a JSON array of events or NDJSON lines.",
        ),
        (b"[\xff]", "application/json", 400, "The body is not UTF-8 (invalid byte at offset 1)."),
        ("42", "application/json", 400, "Expected a JSON array of event objects."),
        (" [ ] ", "application/json", 400, "The array is empty: send at least one event."),
        ("[" * 5000 + "]" * 5000, "application/json", 400, "The JSON is nested too deeply."),
        (
            "[]",
            "text/csv",
            415,
            'Content-Type "text/csv" is not supported: use application/json or application/x-ndjson.',
        ),
    ],
)
def test_bad_bodies_get_clear_errors_and_store_nothing(
    client, key, body, content_type, status, detail
):
    key_obj, secret = key
    response = post(client, secret, body, content_type=content_type)
    assert (response.status_code, response.json()) == (status, {"detail": detail})
    with within(key_obj.organization):
        assert IngestBatch.objects.count() == 0


def test_a_chunked_body_is_411_not_an_empty_body(key):
    """Django reads no body without a Content-Length; a streaming client is told why."""
    from django.test import RequestFactory

    from chargeback.api.ingest import UsageEvents

    key_obj, secret = key
    request = RequestFactory().generic(
        "POST", URL, b"", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}",
        HTTP_TRANSFER_ENCODING="chunked",
    )  # fmt: skip
    request.META.pop("CONTENT_LENGTH", None)
    response = UsageEvents.as_view()(request)
    assert response.status_code == 411
    assert "Content-Length" in json.loads(response.content)["detail"]
    with within(key_obj.organization):
        assert IngestBatch.objects.count() == 0


def test_json_the_standard_library_accepts_is_still_taken(client, key):
    _key, secret = key  # NaN: refused by orjson, read by json (and then by the worker)
    response = post(client, secret, '[{"request_id": "nan1", "input_tokens": NaN}]')
    assert response.status_code == 202
    batch = process_batch(response.json()["batch_id"])
    assert (batch.received, batch.quarantined) == (1, 1)


def test_oversize_payload_is_413_with_the_limit(client, key, settings):
    _key, secret = key
    settings.INGEST_MAX_BYTES = 100
    response = post(client, secret, json.dumps([event("big")] * 5))
    assert response.status_code == 413
    assert "the limit is 100 bytes" in response.json()["detail"]


def test_keys_missing_unknown_revoked_and_foreign(client, key, org_b):
    key_obj, secret = key
    missing = client.post(URL, "[]", content_type="application/json")
    assert (missing.status_code, missing.json(), missing["WWW-Authenticate"]) == (
        401,
        {"detail": 'No ingestion key: send the header "Authorization: Bearer <ingestion key>".'},
        "Bearer",
    )  # fmt: skip
    basic = client.post(URL, "[]", content_type="application/json", HTTP_AUTHORIZATION="Basic abc")
    assert (basic.status_code, basic.json()) == (
        401, {"detail": 'Use "Authorization: Bearer <ingestion key>".'},
    )  # fmt: skip
    assert post(client, "cbk_nothere_secret", "[]").status_code == 401
    assert post(client, secret[:-2] + "xx", "[]").json() == {
        "detail": "Invalid ingestion key: unknown key."
    }
    with within(key_obj.organization):
        revoke_key(key=key_obj, actor="test")
    response = post(client, secret, "[]")
    assert (response.status_code, response.json()) == (
        401,
        {"detail": "Invalid ingestion key: this key was revoked."},
    )
    with within(org_b):
        _b_key, b_secret = create_key(organization=org_b, name="bravo", actor="test")
    own = post(client, b_secret, json.dumps([event("b1")]))
    assert own.status_code == 202
    with within(org_b):
        assert IngestBatch.objects.get(pk=own.json()["batch_id"]).organization == org_b


def test_key_is_hashed_shown_once_and_tracks_last_use(client, key):
    key_obj, secret = key
    with within(key_obj.organization):
        stored = IngestionKey.objects.get(pk=key_obj.pk)
    assert secret not in (stored.hashed, stored.prefix) and secret.startswith(
        f"cbk_{stored.prefix}_"
    )
    assert stored.last_used_at is None
    post(client, secret, json.dumps([event("u1")]))
    with within(key_obj.organization):
        assert IngestionKey.objects.get(pk=key_obj.pk).last_used_at is not None


def test_future_and_wrongly_typed_records_are_quarantined(client, key):
    _key, secret = key
    body = json.dumps(
        [event("f1", occurred_at="2099-01-01T00:00:00Z"), event("t1", input_tokens="many")]
    )
    batch = process_batch(post(client, secret, body).json()["batch_id"])
    with within(batch.organization):
        reasons = QuarantinedEvent.objects.filter(batch=batch).values_list("reason", flat=True)
        assert (batch.quarantined, sorted(reasons)) == (2, ["bad_type", "future_timestamp"])
        assert UsageEvent.objects.count() == 0


def test_cli_errors(priced_org, tmp_path):
    csv_file = tmp_path / "e.csv"
    csv_file.write_text("request_id,provider\nr1,openai\n")
    with pytest.raises(
        CommandError,
        match="CSV header is missing column\\(s\\) occurred_at, model, input_tokens, output_tokens",
    ):
        call_command("ingest_events", "--org", priced_org.slug, str(csv_file))
    empty = tmp_path / "empty.ndjson"
    empty.write_text("")
    with pytest.raises(CommandError, match="the file is empty"):
        call_command("ingest_events", "--org", priced_org.slug, str(empty))
    with pytest.raises(CommandError, match="file not found"):
        call_command("ingest_events", "--org", priced_org.slug, str(tmp_path / "nope.ndjson"))
    with pytest.raises(CommandError, match='unknown organization "ghost"'):
        call_command("ingest_events", "--org", "ghost", str(csv_file))
    broken = tmp_path / "broken.json"
    broken.write_text('[{"request_id": ')
    with pytest.raises(CommandError, match="malformed JSON at line 1"):
        call_command("ingest_events", "--org", priced_org.slug, str(broken))


def test_cli_csv_with_tag_columns(priced_org, tmp_path, capsys):
    path = tmp_path / "e.csv"
    path.write_text(
        "request_id,occurred_at,provider,model,input_tokens,output_tokens,team,environment\n"
        "c1,2026-10-03T10:00:00Z,openai,gpt-4o-mini,1000,100,SUP,staging\n"
        "c2,2026-10-03T10:00:00Z,openai,gpt-4o-mini,x,100,SUP,staging\n"
    )
    call_command("ingest_events", "--org", priced_org.slug, str(path))
    assert (
        capsys.readouterr()
        .out.strip()
        .splitlines()[-1]
        .endswith("received=2 accepted=1 duplicates=0 quarantined=1")
    )
    with within(priced_org):
        assert UsageEvent.objects.get(request_id="c1").unit.code == "SUP"
        assert QuarantinedEvent.objects.get(request_id="c2").line == 3


def test_the_202_answer_is_what_the_batch_serializer_gives(client, key):
    from chargeback.api.ingest import BatchSerializer

    key_obj, secret = key
    response = post(client, secret, ndjson([event("s1")]), content_type="application/x-ndjson")
    assert response.status_code == 202
    data = response.json()
    with within(key_obj.organization):
        batch = IngestBatch.objects.get(pk=data.pop("batch_id"))
    assert data.pop("status_url").endswith(f"/api/v1/ingest-batches/{batch.pk}")
    assert data == json.loads(json.dumps(BatchSerializer(batch).data))
    assert batch.payload.read() == ndjson([event("s1")])  # stored as sent
    assert batch.size_bytes == len(ndjson([event("s1")]))


def test_the_payload_is_on_disk_before_the_202(client, key, monkeypatch, settings, tmp_path):
    """The stored payload, its folder's entry and (for a new folder) the parent's entry are
    fsynced before the batch row is written (and the 202 sent)."""
    import os

    from chargeback.usage import intake

    settings.MEDIA_ROOT = str(tmp_path)  # an empty media folder: the first batch makes its own
    events: list[str] = []
    real_fsync, real_insert = os.fsync, intake._insert_batch

    def fsync(fd: int) -> None:
        events.append("fsync " + os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def insert(batch) -> None:
        events.append("insert " + batch.payload.path)
        real_insert(batch)

    monkeypatch.setattr(intake.os, "fsync", fsync)
    monkeypatch.setattr(intake, "_insert_batch", insert)
    key_obj, secret = key
    paths = []
    for rid in ("d1", "d2"):
        response = post(client, secret, ndjson([event(rid)]), content_type="application/x-ndjson")
        assert response.status_code == 202
        with within(key_obj.organization):
            batch = IngestBatch.objects.get(pk=response.json()["batch_id"])
        paths.append(batch.payload.path)
    first, second = paths
    folder = os.path.dirname(first)
    assert first.startswith(str(tmp_path)) and os.path.dirname(second) == folder
    assert events == [
        f"fsync {first}", f"fsync {folder}", f"fsync {os.path.dirname(folder)}", f"insert {first}",
        f"fsync {second}", f"fsync {folder}", f"insert {second}",
    ]  # fmt: skip


def test_other_methods_still_go_through_drf(client, key):
    _key, secret = key
    get = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert get.status_code == 405 and "POST" in get["Allow"]
    options = client.options(URL)
    assert (options.status_code, options["WWW-Authenticate"]) == (401, "Bearer")
    assert "Authorization: Bearer" in options.json()["detail"]
    status = client.get("/api/v1/ingest-batches/1")
    assert status.status_code == 401 and "Authorization: Bearer" in status.json()["detail"]


def test_the_batch_status_says_why_records_were_quarantined(client, key):
    _key, secret = key
    body = ndjson([event("w1"), "{bad", {**event("w2"), "input_tokens": -1}, event("w3")])
    batch_id = post(client, secret, body, content_type="application/x-ndjson").json()["batch_id"]
    process_batch(batch_id)
    data = client.get(
        f"/api/v1/ingest-batches/{batch_id}", HTTP_AUTHORIZATION=f"Bearer {secret}"
    ).json()
    assert (data["accepted"], data["quarantined"]) == (2, 2)
    assert data["quarantined_by_reason"] == {"malformed": 1, "negative_tokens": 1}
    sample = data["quarantine_sample"]
    assert [(q["line"], q["request_id"], q["status"]) for q in sample] == [
        (2, "", "open"), (3, "w2", "open"),
    ]  # fmt: skip
    assert sample[1]["reasons"][0]["field"] == "input_tokens"
    assert sample[0]["reasons"][0]["problem"].startswith("malformed JSON at line 2, column")

    missing = client.get("/api/v1/ingest-batches/999999", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert (missing.status_code, missing.json()) == (
        404, {"detail": "No batch 999999 in this organisation."},
    )  # fmt: skip


def test_the_schema_describes_the_usage_event(db):
    """/api/schema/ documents the event of DESIGN 6.1 field by field, as an array body."""
    import yaml
    from django.core.management import call_command as run

    out = io.StringIO()
    run("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    body = schema["paths"]["/api/v1/usage-events"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"]["type"] == "array"
    event = schema["components"]["schemas"]["UsageEventDoc"]
    assert set(event["required"]) == {
        "request_id", "occurred_at", "provider", "model", "input_tokens", "output_tokens",
    }  # fmt: skip
    assert {"cached_input_tokens", "gateway_key_id", "retry_of", "tags"} <= set(event["properties"])
    assert "cache reads" in event["properties"]["input_tokens"]["description"]
    detail = schema["components"]["schemas"]["BatchDetail"]["properties"]
    assert {"quarantined_by_reason", "quarantine_sample"} <= set(detail)
