"""Real Celery worker processes for integration tests, consuming from the configured broker
and writing to pytest's test database (the PostgreSQL pass of .ci/run).

With CHARGEBACK_APP_DB_USER set (.ci/run does), the suite connects as the database's owner
(it creates and migrates the test database, as `migrate` runs as the owner in production),
deploy/sql/grants.sql is applied to the test database by that owner, and the workers connect
as the application role, so what they do (ingest, draft, render PDFs) runs with the privileges
production gives the services."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

# The runtime role (deploy/sql/roles.sql) the workers connect as; "" to use the suite's user.
APP_DB_USER = os.environ.get("CHARGEBACK_APP_DB_USER", "")
GRANTS_SQL = Path(__file__).resolve().parents[2] / "deploy" / "sql" / "grants.sql"


def _database_url(user: str = "") -> str:
    """The test database's URL, as the suite's user or as `user` (no password: trust or
    ~/.pgpass)."""
    from django.db import connection

    s = connection.settings_dict
    if user and user != s["USER"]:
        auth = user
    else:
        auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    return predicate()


class Workers:
    """Starts `celery worker` subprocesses against the test database and stops them all."""

    def __init__(self, tmp: Path, user: str = "") -> None:
        self.tmp = tmp
        self.user = user
        self.procs: list[tuple[subprocess.Popen, Path]] = []

    def start(self, queue: str = "", **env_extra: str) -> subprocess.Popen:
        """A worker; with `queue`, it consumes only that queue (not the session worker's)."""
        from chargeback.celery import app

        n = len(self.procs)
        log = self.tmp / f"worker-{n}.log"
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(self.user),
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            **env_extra,
        }
        cmd = [
            sys.executable, "-m", "celery", "-A", "chargeback", "worker", "--pool=solo",
            "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--hostname", f"ci-{os.getpid()}-{n}@%h",
        ]  # fmt: skip
        if queue:
            cmd += ["-Q", queue]
        with open(log, "w") as out:
            proc = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR
            )
        self.procs.append((proc, log))
        deadline = time.monotonic() + 60
        name = f"ci-{os.getpid()}-{n}@"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(
                    f"celery worker exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
                )
            replies = app.control.ping(timeout=1.0)
            if any(name in host for reply in replies for host in reply):
                return proc
        pytest.fail(f"celery worker did not answer a ping in 60 s:\n{log.read_text()[-3000:]}")

    def start_beat(self, **env_extra: str) -> subprocess.Popen:
        """`celery beat` with the production schedule (its own schedule file), sending the
        periodic tasks to the default queue: a worker with `-Q ...,celery` runs them."""
        n = len(self.procs)
        log = self.tmp / f"beat-{n}.log"
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            **env_extra,
        }
        cmd = [
            sys.executable, "-m", "celery", "-A", "chargeback", "beat", "--loglevel=INFO",
            "--schedule", str(self.tmp / f"beat-schedule-{n}"),
        ]  # fmt: skip
        with open(log, "w") as out:
            proc = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR
            )
        self.procs.append((proc, log))
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=20)

    def log(self, proc: subprocess.Popen) -> str:
        return next(log.read_text() for p, log in self.procs if p is proc)

    def stop_all(self) -> None:
        for proc, _log in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


@pytest.fixture(scope="session")
def app_role(django_db_setup, django_db_blocker) -> str:
    """The application role, granted its privileges on the test database by deploy/sql/grants.sql
    run as the test database's owner (the suite's user) after the migrations, as the deploy
    procedure does; "" when CHARGEBACK_APP_DB_USER is unset or the database is not PostgreSQL."""
    if not APP_DB_USER or not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return ""
    with django_db_blocker.unblock():
        url = _database_url()
    done = subprocess.run(
        ["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-v", f"app={APP_DB_USER}",
         "-f", str(GRANTS_SQL)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode:
        pytest.fail(f"deploy/sql/grants.sql failed on the test database:\n{done.stderr}")
    return APP_DB_USER


@pytest.fixture(scope="session")
def worker_mail_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("worker-mail")


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, app_role, worker_mail_dir, tmp_path_factory):
    """One long-lived worker for the integration tests that just need tasks to run."""
    from chargeback.celery import app

    app.control.purge()
    workers = Workers(tmp_path_factory.mktemp("worker-log"), user=app_role)
    try:
        yield workers.start(
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH=str(worker_mail_dir),
        )
    finally:
        workers.stop_all()


@pytest.fixture
def workers(django_db_setup, app_role, tmp_path):
    """Workers this test starts and kills itself."""
    pool = Workers(tmp_path, user=app_role)
    try:
        yield pool
    finally:
        pool.stop_all()
