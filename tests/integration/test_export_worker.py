"""A large export on a real worker (PostgreSQL, Redis): the job queued by the prepare page is
written by the worker under the var directory, its progress reaches rows_total, and the
job's page then offers the file, whose rows are those the streamed download gives."""

import csv
import io

import pytest
from django_scopes import scopes_disabled

from chargeback.reconciliation.models import ExportJob, ExportStatus
from tests.integration.conftest import wait_for
from tests.usage.conftest import event, ingest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
OCTOBER = {"period": "custom", "from": "2026-10-01", "to": "2026-10-31"}


def test_the_worker_writes_the_export_and_the_page_offers_it(
    celery_worker, priced_org, admin, client
):
    ingest(priced_org, [event(f"w{i}", tags={"team": "SUP"}) for i in range(40)])
    client.force_login(admin.user)
    response = client.post(
        f"/o/{priced_org.slug}/events/export/prepare/", {**OCTOBER, "format": "csv"}
    )
    assert response.status_code == 302
    export_id = int(response["Location"].rstrip("/").rsplit("/", 1)[1])

    def finished():
        with scopes_disabled():
            job = ExportJob.objects.get(pk=export_id)
        return job if not job.running else None

    job = wait_for(finished, timeout=60)
    assert job is not None and job.status == ExportStatus.DONE, job and job.error
    assert (job.rows_done, job.rows_total) == (40, 40) and job.started_at and job.finished_at
    page = client.get(f"/o/{priced_org.slug}/exports/{export_id}/").content.decode()
    assert 'data-testid="export-download"' in page and 'value="100"' in page
    download = client.get(f"/o/{priced_org.slug}/exports/{export_id}/download/")
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert len(rows) == 40 and {r["unit"] for r in rows} == {"SUP"}
