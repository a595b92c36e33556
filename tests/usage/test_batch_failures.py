"""A failure that is not a record's (the database is down): the batch is tried again with
backoff, each failed try is visible with its error, after INGEST_MAX_ATTEMPTS tries it is
`failed` with the error text (API, page), and it can be retried from its page (issue 15,
finding 1). No batch stays `processing` silently."""

from __future__ import annotations

import pytest
from celery.exceptions import Retry
from django.db import OperationalError

from chargeback.audit.models import AuditEvent
from chargeback.tenancy.models import Role
from chargeback.tenancy.scoping import within
from chargeback.usage import ingest as ingest_module
from chargeback.usage import tasks
from chargeback.usage.ingest import create_batch, process_batch
from chargeback.usage.keys import create_key
from chargeback.usage.models import IngestBatch
from tests import factories as f
from tests.usage.conftest import event, ndjson


@pytest.fixture
def down(monkeypatch, settings):
    """The database refuses every chunk until `down.up()`."""
    settings.INGEST_MAX_ATTEMPTS = 3
    settings.INGEST_RETRY_SECONDS = 0
    real = ingest_module.commit_chunk

    def refuse(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(ingest_module, "commit_chunk", refuse)

    class Down:
        def up(self):
            monkeypatch.setattr(ingest_module, "commit_chunk", real)

    return Down()


def stored(org) -> IngestBatch:
    with within(org):
        return create_batch(
            organization=org, payload=ndjson([event("f1"), event("f2")]), fmt="ndjson",
            source="test",
        )  # fmt: skip


def test_each_failed_try_is_counted_and_the_last_marks_the_batch_failed(priced_org, down):
    batch = stored(priced_org)  # on-commit scheduling does not fire in a test transaction
    for attempt in (1, 2):
        with pytest.raises(OperationalError):
            process_batch(batch.pk)
        batch.refresh_from_db()
        assert (batch.status, batch.attempts) == ("processing", attempt)
        assert batch.error.startswith(f"try {attempt} of 3 failed (OperationalError: connection")
    batch = process_batch(batch.pk)
    assert (batch.status, batch.attempts, batch.received) == ("failed", 3, 0)
    assert batch.error.startswith("failed 3 times; the last error: OperationalError: connection")
    assert batch.finished_at is not None


def test_the_task_retries_with_backoff_until_the_batch_is_failed(priced_org, down, settings):
    settings.INGEST_RETRY_SECONDS = 5
    batch = stored(priced_org)
    for delay in (5, 10):  # Celery retries the task after the countdown (here: by hand)
        with pytest.raises(Retry) as retry:
            tasks.process_batch_task.apply(args=(batch.pk,))
        assert retry.value.when == delay
    assert (
        tasks.process_batch_task.apply(args=(batch.pk,))
        .get()
        .endswith("received=0 accepted=0 duplicates=0 quarantined=0")
    )
    batch.refresh_from_db()
    assert (batch.status, batch.attempts) == ("failed", 3)


def test_a_failed_batch_shows_its_error_and_is_retried_from_its_page(
    priced_org, down, client_for, admin, viewer, client
):
    batch = stored(priced_org)
    ingest_module.schedule(batch.pk)  # as on commit, tasks in-process: every try at once
    batch.refresh_from_db()
    assert batch.status == "failed"
    with within(priced_org):
        secret = create_key(organization=priced_org, name="gw", actor="test")[1]
    api = client.get(f"/api/v1/ingest-batches/{batch.pk}", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.json()["status"] == "failed" and "Connection refused" in api.json()["error"]
    page_url = f"/o/{priced_org.slug}/usage/batches/{batch.pk}/"
    retry_url = page_url + "retry/"
    assert client_for(viewer).post(retry_url, {"confirm": "1"}).status_code == 403
    page = client_for(admin).get(page_url).content.decode()
    assert "The batch failed:" in page and "Connection refused" in page and retry_url in page
    confirm = client_for(admin).get(retry_url)
    assert confirm.status_code == 200 and "Connection refused" in confirm.content.decode()
    batch.refresh_from_db()
    assert batch.status == "failed"  # a GET changes nothing
    down.up()
    response = client_for(admin).post(retry_url, {"confirm": "1"})
    assert response.status_code == 302
    batch.refresh_from_db()
    assert (batch.status, batch.attempts, batch.error) == ("received", 0, "")
    batch = process_batch(batch.pk)  # what the on-commit schedule does
    assert (batch.status, batch.received, batch.accepted) == ("done", 2, 2)
    with within(priced_org):
        assert AuditEvent.objects.filter(action="ingestbatch.retried").count() == 1


def test_the_admins_are_told_once_when_a_batch_fails_for_good(
    priced_org, down, django_capture_on_commit_callbacks, mailoutbox
):
    with within(priced_org):
        admin = f.MembershipFactory(
            organization=priced_org,
            role=Role.ADMIN,
            user=f.UserFactory(username="ops@alpha.example"),
        )
    batch = stored(priced_org)
    for _ in (1, 2):
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(OperationalError):
            process_batch(batch.pk)
    assert mailoutbox == []  # a try that will be retried tells nobody
    with django_capture_on_commit_callbacks(execute=True):
        process_batch(batch.pk)
    with django_capture_on_commit_callbacks(execute=True):
        process_batch(batch.pk)  # already failed: nothing more
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [admin.user.email]
    assert f"usage batch {batch.pk} failed" in mail.subject
    assert "OperationalError: connection" in mail.body
    assert f"/o/{priced_org.slug}/usage/batches/{batch.pk}/" in mail.body
