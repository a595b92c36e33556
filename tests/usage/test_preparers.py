"""Large NDJSON batches prepared by forked processes (PostgreSQL) store exactly what the
in-process stages store: the same events, costs, owners, rollup, counts and quarantine, through
duplicates, conflicts, bad lines, a resume after a crash and a preparer that fails."""

from __future__ import annotations

import io
import json
import os
from itertools import islice

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import override_settings

from chargeback.tenancy.scoping import within
from chargeback.usage import ingest, pipeline, preparers
from chargeback.usage.ingest import create_batch, process_batch
from chargeback.usage.models import DailyUsage, IngestBatch, QuarantinedEvent, UsageEvent
from chargeback.usage.preparers import chunks_of_lines
from chargeback.usage.records import read_records
from tests import factories as f
from tests.usage.conftest import event, price_and_structure
from tests.usage.test_poison import POISON


def test_chunks_of_lines_cut_the_records_as_read_records_numbers_them(tmp_path):
    lines = [b"\xef\xbb\xbf" + json.dumps({"n": 1}).encode(), b"", b"  "]
    lines += [json.dumps({"n": i}).encode() for i in range(2, 12)] + [b"{bad", b"", b"[1]"]
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    whole = list(read_records(io.BytesIO(path.read_bytes()), "ndjson"))
    for offset in (0, 1, 5, 13, 14):
        got = []
        for index, first, raw in chunks_of_lines(str(path), offset, 4):
            part = list(read_records(io.BytesIO(raw), "ndjson", first_line=first))
            assert len(part) <= 4 and index == len(got) // 4
            got += part
        expected = list(islice(whole, offset, None))
        assert repr(got) == repr(expected), offset


def _payload() -> bytes:
    """Every kind of record the pipeline tells apart, spread over many small chunks."""
    rows: list = []
    for i in range(40):
        kind = i % 5
        e = event(f"p-{i}", input_tokens=100 + i, output_tokens=10 + i)
        if kind == 1:
            e["gateway_key_id"] = "gk-sales"
        elif kind == 2:
            e["provider_account"] = "proj_agent"
        elif kind == 3:
            e["tags"] = {"team": "SUP", "environment": "staging"}
        rows.append(e)
    rows += [
        "{bad", "", event("p-3"),  # malformed; blank; p-3 again, other usage: conflict
        {**rows[7]},  # an exact repeat: duplicate
        event("p-np", model="no-such-model-9"),  # no price
        event("stored-same"), event("stored-other", input_tokens=999),  # stored before
        '{"request_id": "nul\\u0000"}',
        *(line for line, _field, _problem in POISON.values()),  # poison records (issue 15)
    ]  # fmt: skip
    text = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows)
    return b"\xef\xbb\xbf" + text.encode() + b"\n\n"


def _state(org) -> dict:
    with within(org):
        batches = IngestBatch.objects.filter(organization=org, source="test").order_by("pk")
        return {
            "counts": [(b.received, b.accepted, b.duplicates, b.quarantined) for b in batches],
            "status": [b.status for b in batches],
            "events": sorted(
                UsageEvent.objects.filter(organization=org).values_list(
                    "request_id", "cost", "unit__code", "attribution", "input_tokens", "fingerprint"
                )
            ),
            "rollup": sorted(
                DailyUsage.objects.filter(organization=org)
                .values("day", "unit__code", "model")
                .annotate(c=Sum("cost"), r=Sum("requests"), i=Sum("input_tokens"))
                .values_list("day", "unit__code", "model", "c", "r", "i")
            ),
            "quarantine": sorted(
                QuarantinedEvent.objects.filter(organization=org).values_list(
                    "line", "request_id", "reason"
                )
            ),
        }


def _org(slug: str):
    org = f.OrganizationFactory(slug=slug)
    f.BusinessUnitFactory(organization=org, code="CENTRAL", name="Central", is_central=True)
    org = price_and_structure(org)
    before = json.dumps(event("stored-same")) + "\n" + json.dumps(event("stored-other")) + "\n"
    with override_settings(INGEST_PREPARERS=1):
        with within(org):
            seed = create_batch(
                organization=org, payload=before.encode(), fmt="ndjson", source="seed"
            )
        process_batch(seed.pk)
    return org


def _ingest(org) -> IngestBatch:
    with within(org):
        batch = create_batch(organization=org, payload=_payload(), fmt="ndjson", source="test")
    return process_batch(batch.pk)


class Starts(list):
    """The offsets preparers started from; `slim`: per commit, whether a preparer made it."""

    slim: list[bool]


@pytest.fixture
def forked(settings, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("preparers are forked on PostgreSQL only")
    settings.INGEST_PREPARERS_MIN_BYTES = 0
    monkeypatch.setattr(ingest, "CHUNK_SIZE", 4)
    monkeypatch.setattr(ingest, "schedule", lambda batch_id: None)  # processed by the test
    settings.CELERY_TASK_ALWAYS_EAGER = False  # as in a worker (tasks are not run here)
    starts = Starts()
    real_start = preparers.ForkedStages.start

    def start(self, offset: int) -> None:
        starts.append(offset)
        real_start(self, offset)

    monkeypatch.setattr(preparers.ForkedStages, "start", start)
    real_commit = ingest.commit_chunk

    def commit(batch, context, prepared, offset, **kwargs) -> None:
        slim_commits.append(prepared.fresh is None)
        real_commit(batch, context, prepared, offset, **kwargs)

    slim_commits: list[bool] = []
    monkeypatch.setattr(ingest, "commit_chunk", commit)
    starts.slim = slim_commits
    return starts


def _in_process(settings, forked, replays: int = 0):
    """The reference: an organisation whose batch (and replays) went through the in-process
    stages; preparers are switched on again afterwards."""
    settings.INGEST_PREPARERS = 1
    alone = _org("alone")
    for _ in range(1 + replays):
        _ingest(alone)
    assert forked == [] and not any(forked.slim)
    forked.slim.clear()
    settings.INGEST_PREPARERS = 2
    return alone


@pytest.mark.django_db(transaction=True)
def test_forked_preparers_store_what_the_stages_in_process_store(
    settings, forked, monkeypatch, caplog
):
    alone = _in_process(settings, forked, replays=1)
    shared = _org("shared")
    first = _ingest(shared)
    assert (first.received, first.duplicates, first.quarantined) == (51, 2, 9)
    _ingest(shared)
    assert forked == [0, 0]
    assert "going on in this process" not in caplog.text  # no fallback: the preparers did it
    assert forked.slim.count(True) >= 20  # of 24 chunks (a conflict may be redone in full)
    assert _state(shared) == _state(alone)
    assert _state(shared)["counts"][1] == (51, 0, 42, 9)


@pytest.mark.django_db(transaction=True)
def test_a_forked_batch_resumes_after_a_crash_and_survives_a_failing_preparer(
    settings, forked, monkeypatch, caplog
):
    alone = _in_process(settings, forked)
    crashed = _org("crashed")
    real_commit, commits = ingest.commit_chunk, []

    def commit_then_crash(*args, **kwargs) -> None:
        if len(commits) == 3:
            raise RuntimeError("the worker died")
        commits.append(1)
        real_commit(*args, **kwargs)

    monkeypatch.setattr(ingest, "commit_chunk", commit_then_crash)
    with within(crashed):
        batch = create_batch(organization=crashed, payload=_payload(), fmt="ndjson", source="test")
    with pytest.raises(RuntimeError, match="the worker died"):
        process_batch(batch.pk)
    with within(crashed):
        assert IngestBatch.objects.get(pk=batch.pk).records_done == 12
    monkeypatch.setattr(ingest, "commit_chunk", real_commit)

    parent, real_validate = os.getpid(), pipeline.validate_chunk

    def fails_in_a_preparer(context, chunk):
        if os.getpid() != parent and chunk and chunk[0][0] > 30:
            raise ValueError("a preparer's bug")
        return real_validate(context, chunk)

    monkeypatch.setattr(pipeline, "validate_chunk", fails_in_a_preparer)
    process_batch(batch.pk)  # resumes at 12 in preparers; one fails; goes on in-process
    assert forked == [0, 12]
    assert "a preparer's bug; going on in this process" in caplog.text
    with within(crashed):
        assert IngestBatch.objects.get(pk=batch.pk).status == "done"
    assert _state(crashed) == _state(alone)


@pytest.mark.django_db
def test_no_preparers_inside_a_transaction(forked, priced_org):
    """Their look-ups could not see the transaction's rows: the stages run in-process."""
    with within(priced_org):
        batch = create_batch(organization=priced_org, payload=_payload(), fmt="ndjson", source="t")
    assert process_batch(batch.pk).received == 51
    assert forked == []
