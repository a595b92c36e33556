#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chargeback.settings")
    # Commands may run without SECRET_KEY (a development key is used; `check --deploy` flags
    # it). The web process (chargeback/wsgi.py) still refuses to start without one.
    os.environ.setdefault("CHARGEBACK_ALLOW_INSECURE_KEY", "1")
    from django.core.management import execute_from_command_line  # noqa: PLC0415 (Django's own manage.py)

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
