import sys
from pathlib import Path

from django.core.management.base import CommandError

from chargeback.provisioning.config import (
    ConfigError,
    apply_config,
    decode_config,
    parse_config,
    plan_config,
)
from chargeback.tenancy.scoping import OrgCommand


class Command(OrgCommand):
    help = (
        "Apply an organisation configuration file (YAML or JSON: units, services, gateway keys, "
        "provider accounts, ownership rules, required tags). Prints the changes; a file with "
        "any error changes nothing. Running it twice changes nothing the second time."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "file", metavar="FILE", help="YAML or JSON file; - reads standard input"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="print the planned changes and apply nothing"
        )

    def handle_org(self, org, *args, **opts):
        name = opts["file"]
        try:
            raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except FileNotFoundError as exc:
            raise CommandError(f"file not found: {name}") from exc
        except OSError as exc:
            raise CommandError(f'cannot read "{name}": {exc.strerror or exc}') from exc
        try:
            data = parse_config(decode_config(raw))
            if opts["dry_run"]:
                plan = plan_config(org, data)
            else:
                plan = apply_config(org, data, actor="command:import_config")
            errors = plan.errors
        except ConfigError as exc:
            errors = exc.errors
        if errors:
            for line in errors:
                self.stderr.write(line)
            count = f"{len(errors)} error{'' if len(errors) == 1 else 's'}"
            raise CommandError(f'{count} in "{name}"; nothing was applied')
        for line in plan.lines:
            self.stdout.write(line)
        n = len(plan.changes)
        if not n:
            self.stdout.write("no changes")
        elif opts["dry_run"]:
            self.stdout.write(f"dry run: {n} change{'' if n == 1 else 's'} planned, none applied")
        else:
            self.stdout.write(f"applied {n} change{'' if n == 1 else 's'}")
