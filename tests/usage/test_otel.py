"""OTLP/JSON from four instrumentations (LiteLLM, OpenLLMetry, contrib openai-v2, the Anthropic
SDK), from the collector's file and posted to /api/v1/otel/v1/traces: attributed by service
and team, priced with the right token classes, and no message text stored anywhere."""

import base64
import io
import json
import os

from django.conf import settings
from django.core.management import call_command
from django_scopes import scopes_disabled
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from chargeback.tenancy.scoping import within
from chargeback.usage.adapters import otel
from chargeback.usage.ingest import process_batch
from chargeback.usage.keys import create_key
from chargeback.usage.models import IngestBatch, UsageEvent
from tests.usage import otel_spans as s

URL = "/api/v1/otel/v1/traces"
KEYS = [
    "resourceSpans", "resource", "attributes", "scopeSpans", "spans", "key", "value",
    "stringValue", "intValue", "arrayValue", "kvlistValue", "values", "status", "code",
    "startTimeUnixNano", "spanId",
]  # fmt: skip


def outcome(org):
    with within(org):
        return {
            e.request_id: (e.unit.code, str(e.cost.normalize()))
            for e in UsageEvent.objects.filter(organization=org)
        }


def test_the_collector_file_is_accepted_attributed_and_priced(litellm_org, tmp_path):
    path = tmp_path / "traces.json"
    path.write_text(json.dumps(s.document()))
    out = io.StringIO()
    call_command(
        "ingest_events", "--org", litellm_org.slug, str(path), "--format", "otel", stdout=out
    )
    assert (
        out.getvalue().splitlines()[-1].endswith("received=4 accepted=4 duplicates=0 quarantined=0")
    )
    assert outcome(litellm_org) == s.EXPECTED
    with within(litellm_org):
        events = {e.request_id: e for e in UsageEvent.objects.filter(organization=litellm_org)}
    merged = events["chatcmpl-L1"]  # LiteLLM's span and OpenLLMetry's, one call
    assert (merged.team, merged.cost_center, merged.gateway_key_id, merged.service) == (
        "Support", "CC-410", "litellm-support", "ticket-summarizer",
    )  # fmt: skip
    assert (merged.input_tokens, merged.cached_input_tokens, merged.reasoning_tokens) == (
        10_000,
        4000,
        100,
    )
    sdk = events["msg_B1"]
    assert (sdk.input_tokens, sdk.cached_input_tokens, sdk.cache_write_input_tokens) == (
        5000,
        3000,
        1000,
    )
    research = events["msg_A1"]
    assert (research.service, research.environment, research.team) == (
        "paper-digest",
        "production",
        "RES",
    )
    assert events["chatcmpl-C1"].environment == "production"  # deployment.environment.name


def test_the_same_spans_posted_give_the_same_result(client, litellm_org):
    with within(litellm_org):
        _key, secret = create_key(organization=litellm_org, name="collector", actor="test")
    response = client.generic(
        "POST", URL, json.dumps(s.document()), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )  # fmt: skip
    assert (response.status_code, response.json()) == (200, {"partialSuccess": {}})
    batch_id = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    batch = process_batch(batch_id)  # tests run in a transaction: on-commit tasks do not fire
    assert (batch.format, batch.received, batch.accepted) == ("otel", 4, 4)
    assert outcome(litellm_org) == s.EXPECTED


def test_bad_posts_are_named(client, litellm_org):
    with within(litellm_org):
        _key, secret = create_key(organization=litellm_org, name="collector", actor="test")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    cases = [
        (b"\x0a\x05ab", "application/x-protobuf", 400),  # cut short
        (b"resourceSpans", "text/plain", 415),
        (b"{not json", "application/json", 400),
        (b'{"resourceLogs": []}', "application/json", 400),
    ]
    for body, content_type, code in cases:
        response = client.generic("POST", URL, body, content_type=content_type, **auth)
        assert response.status_code == code, body
        assert response.json()["detail"]
    assert client.generic("POST", URL, b"{}", content_type="application/json").status_code == 401
    with within(litellm_org):
        assert not IngestBatch.objects.exists()


def test_other_attributes_are_ignored_and_spans_without_usage_skipped():
    records = list(otel.spans(s.document()))
    assert [r["request_id"] for r in records] == ["chatcmpl-L1", "msg_A1", "chatcmpl-C1", "msg_B1"]
    assert all(
        not k.startswith(("http.", "server.", "url.", "metadata.", "litellm."))
        for r in records
        for k in r
    )


def _media_files() -> set[str]:
    return {
        os.path.join(folder, name)
        for folder, _dirs, names in os.walk(settings.MEDIA_ROOT)
        for name in names
    }


def test_no_prompt_or_completion_text_is_stored_anywhere(litellm_org, tmp_path):
    path = tmp_path / "traces.json"
    path.write_text(json.dumps(s.document(broken=True)))
    assert b"SECRET" in path.read_bytes()
    # Other tests' files stay in the media folder, fuzzed bodies among them (whose random text
    # may spell anything): only the files this ingest writes are this test's to read.
    before = _media_files()
    call_command(
        "ingest_events",
        "--org",
        litellm_org.slug,
        str(path),
        "--format",
        "otel",
        stdout=io.StringIO(),
    )
    with within(litellm_org):
        batch = IngestBatch.objects.get()
    assert (batch.accepted, batch.quarantined) == (4, 1)
    database = io.StringIO()
    with scopes_disabled():
        call_command("dumpdata", stdout=database)
    assert "gpt-4o" in database.getvalue()  # the dump has the events
    assert "SECRET" not in database.getvalue()
    files = _media_files() - before
    assert batch.payload.path in files
    for name in files:
        with open(name, "rb") as f:
            assert b"SECRET" not in f.read(), name


def test_cache_counts_written_the_anthropic_way_are_added_to_the_input():
    span = s.span("9", "chat", {
        "gen_ai.system": "anthropic", "gen_ai.request.model": "claude-sonnet-4",
        "gen_ai.usage.input_tokens": 2000, "gen_ai.usage.cache_read_input_tokens": 6000,
        "gen_ai.usage.cache_creation_input_tokens": 2000, "gen_ai.usage.output_tokens": 1000,
    })  # fmt: skip
    doc = {"resourceSpans": [s.resource("x", "staging", [span], scope="x")]}
    (record,) = otel.spans(doc)
    assert (record["input_tokens"], record["cached_input_tokens"]) == (10_000, 6000)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON)
@hypothesis_settings(max_examples=200, deadline=None)
def test_any_document_is_read_without_an_error(document):
    """Whatever the posted document holds, reading it never raises (a bad span is skipped or
    quarantined by validation, never the batch's failure)."""
    if isinstance(document, dict):
        list(otel.spans(document))
    list(otel.spans({"resourceSpans": [{"scopeSpans": [{"spans": [document]}]}]}))
    list(otel.spans({"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [
        {"key": "gen_ai.usage.input_tokens", "value": document},
        {"key": "gen_ai.response.id", "value": document}]}]}]}]}))  # fmt: skip


def test_ingest_events_tells_an_otlp_file_by_its_content(litellm_org, tmp_path):
    path = tmp_path / "traces.json"
    path.write_text(json.dumps(s.document()))
    call_command("ingest_events", "--org", litellm_org.slug, str(path), stdout=io.StringIO())
    with within(litellm_org):
        assert IngestBatch.objects.get().format == "otel"
    assert outcome(litellm_org) == s.EXPECTED


def protobuf_body(document: dict) -> bytes:
    """The document as the collector's otlphttp exporter sends it by default: protobuf, built
    by opentelemetry-proto (ids are bytes there: hex in OTLP/JSON)."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    document = json.loads(json.dumps(document))
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for one in scope_spans["spans"]:
                for name in ("traceId", "spanId", "parentSpanId"):
                    one[name] = base64.b64encode(bytes.fromhex(one[name])).decode()
    return json_format.ParseDict(document, ExportTraceServiceRequest()).SerializeToString()


def test_the_same_spans_posted_in_protobuf_give_the_same_result(client, litellm_org):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse,
    )

    with within(litellm_org):
        _key, secret = create_key(organization=litellm_org, name="collector", actor="test")
    body = protobuf_body(s.document(broken=True))
    assert b"SECRET" in body
    response = client.generic(
        "POST", URL, body, content_type="application/x-protobuf",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )  # fmt: skip
    assert (response.status_code, response["Content-Type"]) == (200, "application/x-protobuf")
    ExportTraceServiceResponse().ParseFromString(response.content)  # what the exporter reads
    batch_id = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    batch = process_batch(batch_id)
    assert (batch.format, batch.received, batch.accepted, batch.quarantined) == ("otel", 5, 4, 1)
    assert outcome(litellm_org) == s.EXPECTED
    with within(litellm_org):
        stored = {e.request_id: e for e in UsageEvent.objects.filter(organization=litellm_org)}
    assert (stored["chatcmpl-L1"].team, stored["chatcmpl-L1"].service) == (
        "Support", "ticket-summarizer",
    )  # fmt: skip
    with batch.payload.open("rb") as f:
        assert b"SECRET" not in f.read()
