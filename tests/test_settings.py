"""Settings defaults: the web process needs SECRET_KEY; commands get a flagged development key."""

import os
import subprocess
import sys

from django.conf import settings

CLEAN = {
    k: v
    for k, v in os.environ.items()
    if k not in ("SECRET_KEY", "DEBUG", "CHARGEBACK_ALLOW_INSECURE_KEY", "DJANGO_SETTINGS_MODULE")
}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env=CLEAN,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_web_process_refuses_to_start_without_secret_key():
    result = run(
        "-c",
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'chargeback.settings'; import chargeback.wsgi",
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set. Set SECRET_KEY, or DEBUG=1 for a local demo." in result.stderr


def test_commands_run_without_secret_key_and_check_deploy_flags_it():
    assert run("manage.py", "makemigrations", "--check", "--dry-run").returncode == 0
    deploy = run("manage.py", "check", "--deploy")
    assert "security.W009" in deploy.stderr + deploy.stdout


def test_debug_is_off_by_default():
    result = run(
        "manage.py", "shell", "-c", "from django.conf import settings; print(settings.DEBUG)"
    )
    assert result.stdout.strip().splitlines()[-1] == "False"


def _gunicorn_settings(**env: str) -> dict:
    """The deploy/gunicorn.conf.py values for an environment holding only `env`."""
    import runpy
    from unittest import mock

    with mock.patch.dict(os.environ, env, clear=True):
        return runpy.run_path(str(settings.BASE_DIR / "deploy" / "gunicorn.conf.py"))


def test_gunicorn_serves_a_burst_fairly_by_default():
    """A process takes a connection only when it has a thread free (so a burst queues in the
    kernel's backlog in arrival order) and, having no spare slots, keeps none alive."""
    import multiprocessing

    values = _gunicorn_settings()
    assert (values["worker_class"], values["threads"], values["keepalive"]) == ("gthread", 2, 0)
    assert values["workers"] == multiprocessing.cpu_count() + 1
    assert values["worker_connections"] == values["threads"]
    assert values["bind"] == ["127.0.0.1:8000"]
    tuned = _gunicorn_settings(GUNICORN_THREADS="4", GUNICORN_WORKERS="2")
    assert (tuned["workers"], tuned["threads"], tuned["worker_connections"]) == (2, 4, 4)
    assert _gunicorn_settings(GUNICORN_THREADS="1")["worker_class"] == "sync"


def test_gunicorn_keeps_connections_alive_only_with_spare_slots():
    assert _gunicorn_settings(GUNICORN_KEEPALIVE="5")["keepalive"] == 0
    spare = _gunicorn_settings(GUNICORN_KEEPALIVE="5", GUNICORN_WORKER_CONNECTIONS="10")
    assert (spare["worker_connections"], spare["keepalive"]) == (10, 5)


def test_gunicorn_on_a_platform_port_keeps_many_connections():
    """Bound to $PORT (no buffering proxy of ours in front), slow clients must not hold every
    thread's only slot."""
    values = _gunicorn_settings(PORT="5000")
    assert values["bind"] == ["0.0.0.0:5000"]
    assert values["worker_connections"] == 1000
    behind_proxy = _gunicorn_settings(PORT="5000", GUNICORN_BIND="127.0.0.1:9000")
    assert behind_proxy["worker_connections"] == behind_proxy["threads"]


def test_gunicorn_accepts_the_deployed_config():
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "-c", "deploy/gunicorn.conf.py"],
        cwd=settings.BASE_DIR,
        env={**CLEAN, "SECRET_KEY": "check-" + "x" * 50},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def _database_options(**env: str) -> dict:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from django.conf import settings; print(settings.DATABASES['default'].get('OPTIONS'))"],
        cwd=settings.BASE_DIR, env={**CLEAN, "DEBUG": "1", **env}, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    return eval(result.stdout.strip().splitlines()[-1])  # noqa: S307 (a dict we printed)


def test_postgresql_prepares_hot_statements_unless_told_not_to():
    url = {"DATABASE_URL": "postgres://u@127.0.0.1:5432/db"}
    assert _database_options(**url)["prepare_threshold"] == 5
    # Behind a transaction-mode pooler that cannot keep prepared statements
    assert _database_options(**url, DB_PREPARE_THRESHOLD="0")["prepare_threshold"] is None
