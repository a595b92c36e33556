from pathlib import Path

from django.core.management.base import CommandError

from chargeback.provisioning.config import FORMATS, dump_config, export_config
from chargeback.tenancy.cli import format_from
from chargeback.tenancy.scoping import OrgCommand


class Command(OrgCommand):
    help = (
        "Write an organisation's structure as a configuration file (YAML or JSON) that "
        "import_config accepts; importing it back changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output", metavar="FILE", help="write to FILE instead of standard output"
        )
        parser.add_argument(
            "--format",
            choices=FORMATS,
            help="yaml (the default) or json; an --output ending in .json defaults to json",
        )

    def handle_org(self, org, *args, **opts):
        output = opts["output"]
        fmt = format_from(output or "", opts["format"], FORMATS)
        text = dump_config(export_config(org), fmt)
        if not output:
            self.stdout.write(text, ending="")
            return
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f'cannot write "{output}": {exc.strerror or exc}') from exc
        self.stdout.write(f"wrote {output} ({fmt})")
