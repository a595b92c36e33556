"""Fast recovery (issue 15, finding 4): beat runs the stuck-batch sweeper every 30 s; it
requeues a batch with no heartbeat for a minute, at most once a minute, and a live run that is
caught up by a requeued one never counts a chunk twice."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from chargeback.tenancy.scoping import within
from chargeback.usage import ingest as ingest_module
from chargeback.usage import tasks
from chargeback.usage.ingest import create_batch, process_batch
from chargeback.usage.models import IngestBatch, UsageEvent
from chargeback.usage.writer import ChunkTaken
from tests.usage.conftest import event, ndjson


def test_beat_sweeps_every_30_seconds_for_batches_silent_for_a_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["requeue-stuck-ingest-batches"]
    assert entry == {"task": "usage.requeue_stuck_batches", "schedule": 30.0}
    assert settings.INGEST_STALE_AFTER == 60


def _batch(org, rid: str, **fields) -> IngestBatch:
    batch = create_batch(organization=org, payload=ndjson([event(rid)]), fmt="ndjson", source="t")
    if fields:
        IngestBatch.objects.filter(pk=batch.pk).update(**fields)
    return batch


def test_the_sweeper_requeues_a_batch_silent_for_a_minute_once_a_minute(priced_org, monkeypatch):
    monkeypatch.setattr(ingest_module, "schedule", lambda batch_id: None)  # left unprocessed
    now = timezone.now()
    ago = lambda s: now - dt.timedelta(seconds=s)  # noqa: E731
    with within(priced_org):
        dead = _batch(
            priced_org, "d", status="processing", created_at=ago(900), heartbeat_at=ago(75)
        )
        alive = _batch(
            priced_org, "a", status="processing", created_at=ago(900), heartbeat_at=ago(20)
        )
        waiting = _batch(priced_org, "w", created_at=ago(75))
        new = _batch(priced_org, "n", created_at=ago(10))
        _batch(priced_org, "x", status="done", created_at=ago(900), heartbeat_at=ago(900))
    queued: list[int] = []
    monkeypatch.setattr(tasks.process_batch_task, "delay", queued.append)
    assert sorted(tasks.requeue_stuck_batches()) == sorted([dead.pk, waiting.pk])
    assert sorted(queued) == sorted([dead.pk, waiting.pk])
    assert alive.pk not in queued and new.pk not in queued
    # The requeued ones got a fresh heartbeat: the next sweep, 30 s later, leaves them be.
    assert tasks.requeue_stuck_batches() == []
    with within(priced_org):
        IngestBatch.objects.filter(pk=dead.pk).update(heartbeat_at=ago(61))
    assert tasks.requeue_stuck_batches() == [dead.pk]


def test_taking_a_batch_up_is_a_heartbeat(priced_org, monkeypatch):
    monkeypatch.setattr(ingest_module, "schedule", lambda batch_id: None)
    with within(priced_org):
        batch = _batch(priced_org, "h", created_at=timezone.now() - dt.timedelta(minutes=5))
    seen = []

    def commit(batch_, *args, **kwargs):
        with within(priced_org):
            seen.append(IngestBatch.objects.get(pk=batch_.pk).heartbeat_at)
        return real(batch_, *args, **kwargs)

    real = ingest_module.commit_chunk
    monkeypatch.setattr(ingest_module, "commit_chunk", commit)
    before = timezone.now()
    assert process_batch(batch.pk).status == "done"
    assert seen and seen[0] >= before


def test_a_live_run_overtaken_by_a_requeued_one_counts_nothing_twice(priced_org, monkeypatch):
    """The sweeper requeued a batch whose worker was alive but slow: the second run resumes at
    `records_done` and finishes; the first one's pending chunk meets ChunkTaken and it leaves."""
    monkeypatch.setattr(ingest_module, "schedule", lambda batch_id: None)
    monkeypatch.setattr(ingest_module, "CHUNK_SIZE", 3)
    events = [event(f"slow-{i}") for i in range(10)]
    with within(priced_org):
        batch = create_batch(
            organization=priced_org, payload=ndjson(events), fmt="ndjson", source="t"
        )
    real = ingest_module.commit_chunk
    calls = {"n": 0, "taken": 0}

    def slow_commit(batch_, context, prepared, offset, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the first run, slow on its second chunk: a requeued run overtakes
            assert process_batch(batch_.pk).status == "done"
        try:
            return real(batch_, context, prepared, offset, **kwargs)
        except ChunkTaken:
            calls["taken"] += 1
            raise

    monkeypatch.setattr(ingest_module, "commit_chunk", slow_commit)
    process_batch(batch.pk)
    assert calls["taken"] == 1
    with within(priced_org):
        batch.refresh_from_db()
        assert (batch.status, batch.received, batch.accepted, batch.duplicates) == (
            "done", 10, 10, 0,
        )  # fmt: skip
        assert batch.records_done == 10
        assert UsageEvent.objects.filter(organization=priced_org).count() == 10
