"""Large exports as a task (tasks run eagerly here): the prepare page starts a job, the job's
page shows its progress (polled over htmx) and then the download; a download above
EXPORT_TASK_THRESHOLD rows goes to the prepare page; a team lead's jobs hold its units only and
it sees no one else's wider job; a failure is shown; old files are deleted."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from django_scopes import scopes_disabled

from chargeback.reconciliation import export_jobs
from chargeback.reconciliation.models import ExportJob, ExportStatus
from chargeback.reconciliation.tasks import clean_exports_sweep, run_export
from chargeback.tenancy.models import Role
from chargeback.tenancy.scoping import within
from tests.conftest import _member
from tests.reconciliation.conftest import metered  # noqa: F401 (fixture)
from tests.usage.conftest import priced_org  # noqa: F401 (fixture)

OCTOBER = {"period": "custom", "from": "2026-10-01", "to": "2026-10-31"}


@pytest.fixture
def prepare(django_capture_on_commit_callbacks):
    """POST the prepare form; the job is queued when the request's transaction commits (here:
    the on-commit callbacks run at once, and the task eagerly)."""

    def post(client, org, **params):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/o/{org.slug}/events/export/prepare/", {**OCTOBER, **params})

    return post


def _job_of(response) -> ExportJob:
    assert response.status_code == 302, response.content
    export_id = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    with scopes_disabled():
        return ExportJob.objects.get(pk=export_id)


def _download(client, org, job) -> str:
    response = client.get(f"/o/{org.slug}/exports/{job.pk}/download/")
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def test_a_prepared_export_runs_and_offers_the_same_file(prepare, client_for, admin, metered):  # noqa: F811
    c = client_for(admin)
    job = _job_of(prepare(c, metered, format="csv"))
    assert (job.status, job.rows_done, job.rows_total) == (ExportStatus.DONE, 5, 5)
    assert job.requested_by == admin.user and job.params["unit_ids"] is None
    page = c.get(f"/o/{metered.slug}/exports/{job.pk}/").content.decode()
    assert 'value="100"' in page and "5 rows written" in page
    assert 'data-testid="export-download"' in page and 'hx-trigger="every 1s"' not in page
    text = _download(c, metered, job)
    streamed = c.get(f"/o/{metered.slug}/events/export/", {**OCTOBER, "format": "csv"})
    assert text == b"".join(streamed.streaming_content).decode()
    assert Path(settings.VAR_DIR, job.file_path).is_file()
    assert job.file_path.startswith(f"exports/{metered.pk}/")
    focus = _job_of(prepare(c, metered, format="focus", focus_version="1.0"))
    rows = list(csv.DictReader(io.StringIO(_download(c, metered, focus))))
    assert sorted(r["x_UnitCode"] for r in rows) == ["SALES", "SUP"] and focus.rows_done == 2


def test_a_running_job_polls_its_progress_every_second(client_for, admin, metered):  # noqa: F811
    with within(metered):
        job = ExportJob.objects.create(
            organization=metered, requested_by=admin.user, params={"format": "csv"},
            filename="x.csv", status=ExportStatus.RUNNING, rows_done=250, rows_total=1000,
        )  # fmt: skip
    c = client_for(admin)
    partial = c.get(f"/o/{metered.slug}/exports/{job.pk}/", HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert body.lstrip().startswith('<section id="progress"')
    assert 'hx-trigger="every 1s"' in body and '<progress max="100" value="25"' in body
    assert "250 of 1,000 rows written" in body and "export-download" not in body
    assert c.get(f"/o/{metered.slug}/exports/{job.pk}/download/").status_code == 404


def test_the_progress_is_recorded_while_writing(prepare, client_for, admin, metered, monkeypatch):  # noqa: F811
    seen = []
    real = export_jobs._update

    def recording(job, **fields):
        real(job, **fields)
        seen.append(ExportJob.objects.get(pk=job.pk).rows_done)

    monkeypatch.setattr(export_jobs, "PROGRESS_SECONDS", 0)
    monkeypatch.setattr(export_jobs, "_update", recording)
    job = _job_of(prepare(client_for(admin), metered, format="ndjson"))
    assert job.status == ExportStatus.DONE
    assert seen[0] == 0 and seen[-1] == 5 and sorted(seen) == seen and len(set(seen)) >= 4


def test_a_large_download_goes_to_the_prepare_page(client_for, admin, metered, settings):  # noqa: F811
    settings.EXPORT_TASK_THRESHOLD = 4
    c = client_for(admin)
    response = c.get(f"/o/{metered.slug}/events/export/", {**OCTOBER, "format": "csv"})
    assert response.status_code == 302
    assert response["Location"].startswith(f"/o/{metered.slug}/events/export/prepare/?")
    page = c.get(response["Location"]).content.decode()
    assert 'data-testid="export-rows">5</strong> events' in page and "more than 4 rows" in page
    assert 'name="from" value="2026-10-01"' in page
    focus = c.get(f"/o/{metered.slug}/events/export/", {**OCTOBER, "format": "focus"})
    assert focus.status_code == 200 and focus.streaming  # 2 FOCUS rows: streamed at once


def test_a_team_lead_exports_its_units_and_sees_no_wider_job(prepare, client_for, admin, metered):  # noqa: F811
    lead = _member(metered, Role.TEAM_LEAD, "lead@alpha.example", [metered.units_map["SUP"]])
    wide = _job_of(prepare(client_for(admin), metered, format="csv"))
    c = client_for(lead)
    own = _job_of(prepare(c, metered, format="csv"))
    assert own.params["unit_ids"] == [metered.units_map["SUP"].pk] and own.rows_done == 3
    assert {r["unit"] for r in csv.DictReader(io.StringIO(_download(c, metered, own)))} == {"SUP"}
    for path in ("", "download/"):
        assert c.get(f"/o/{metered.slug}/exports/{wide.pk}/{path}").status_code == 404
    prepare = c.get(f"/o/{metered.slug}/events/export/prepare/", OCTOBER).content.decode()
    assert own.filename in prepare and f"/exports/{wide.pk}/" not in prepare
    # an admin sees the lead's job (it could have asked for it)
    assert client_for(admin).get(f"/o/{metered.slug}/exports/{own.pk}/").status_code == 200


def test_a_failure_is_shown_and_leaves_no_file(client_for, admin, metered):  # noqa: F811
    with within(metered):
        job = ExportJob.objects.create(
            organization=metered, requested_by=admin.user, filename="x.csv",
            params={"format": "focus", "focus_version": "9.9", "first": "2026-10-01",
                    "last": "2026-10-31", "unit_ids": None},
        )  # fmt: skip
    folder = Path(settings.VAR_DIR, "exports", str(metered.pk))
    before = set(folder.glob("*"))
    assert run_export(job.pk) == ExportStatus.FAILED
    with scopes_disabled():
        job.refresh_from_db()
    assert job.file_path == "" and "9.9" in job.error
    assert set(folder.glob("*")) == before  # the partial file is deleted
    page = client_for(admin).get(f"/o/{metered.slug}/exports/{job.pk}/").content.decode()
    assert 'role="alert"' in page and "The export failed:" in page and "9.9" in page


def test_expired_exports_go(prepare, client_for, admin, metered, settings):  # noqa: F811
    """By beat, and on access."""
    settings.EXPORT_KEEP_DAYS = 3
    c = client_for(admin)
    old, swept, fresh = (_job_of(prepare(c, metered, format="csv")) for _ in range(3))
    files = {j.pk: Path(settings.VAR_DIR, j.file_path) for j in (old, swept, fresh)}
    long_ago = timezone.now() - dt.timedelta(days=4)
    with scopes_disabled():
        ExportJob.objects.filter(pk__in=[old.pk, swept.pk]).update(created_at=long_ago)
    assert c.get(f"/o/{metered.slug}/exports/{old.pk}/").status_code == 404  # on access
    assert not files[old.pk].exists() and not files[swept.pk].exists()
    with scopes_disabled():
        ExportJob.objects.filter(pk=fresh.pk).update(created_at=long_ago)
    assert clean_exports_sweep() == [fresh.pk]  # beat
    with scopes_disabled():
        assert not ExportJob.objects.filter(pk=fresh.pk).exists()
    assert not files[fresh.pk].exists()


def test_the_pages_link_the_prepare_page(client_for, admin, metered):  # noqa: F811
    page = client_for(admin).get(f"/o/{metered.slug}/", OCTOBER).content.decode()
    assert 'data-testid="events-export-prepare"' in page
    assert f"/o/{metered.slug}/events/export/prepare/?period=custom&amp;from=2026-10-01" in page


def test_a_team_lead_finds_its_job_behind_many_wider_ones_in_few_queries(
    client_for,
    admin,
    metered,  # noqa: F811
    django_assert_max_num_queries,
):
    """The prepare page lists the newest jobs the person may open: its reach is read once,
    not once per job, and 60 newer jobs it may not open do not hide its own."""
    lead = _member(metered, Role.TEAM_LEAD, "lead@alpha.example", [metered.units_map["SUP"]])
    day = dt.date(2026, 10, 1)
    with within(metered):
        own = export_jobs.create_job(lead, fmt="csv", version="", first=day, last=day,
                                     unit_ids={metered.units_map["SUP"].pk}, filename="own.csv")  # fmt: skip
        for n in range(60):
            export_jobs.create_job(admin, fmt="csv", version="", first=day, last=day,
                                   unit_ids=None, filename=f"wide-{n}.csv")  # fmt: skip
    c = client_for(lead)
    c.get(f"/o/{metered.slug}/events/export/prepare/", OCTOBER)  # the session is warm
    with django_assert_max_num_queries(20):
        page = c.get(f"/o/{metered.slug}/events/export/prepare/", OCTOBER).content.decode()
    assert "own.csv" in page and "wide-" not in page
    assert f"/exports/{own.pk}/" in page
