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
