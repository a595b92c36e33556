from pathlib import Path

from django.core.management.base import CommandError

from chargeback.tenancy.cli import format_from
from chargeback.tenancy.scoping import OrgCommand
from chargeback.usage.adapters.redact import Unreadable
from chargeback.usage.ingest import create_batch, wait_for_batch
from chargeback.usage.models import BatchStatus
from chargeback.usage.records import FORMATS, check_csv_header
from chargeback.usage.sniff import HEAD, by_content


class Command(OrgCommand):
    help = (
        "Ingest a file of usage events through the same pipeline as the API, wait for it, and "
        "print the batch counts last."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="events file")
        parser.add_argument(
            "--format", choices=FORMATS, help="default: from the file name and content, else ndjson"
        )

    def handle_org(self, org, *args, **opts):
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"file not found: {path}")
        fmt = format_from(str(path), opts["format"], ("ndjson", "json", "csv", "otel", "litellm"))
        if not opts["format"]:  # the upload form's rule: OTLP and LiteLLM files told by content
            with path.open("rb") as f:
                fmt = by_content(fmt, f.read(HEAD))
        if path.stat().st_size == 0:
            raise CommandError(f"{path}: the file is empty")
        if fmt == "csv":
            with path.open("rb") as f:
                first = f.readline().decode("utf-8", "replace")
            missing = check_csv_header(first)
            if missing:
                raise CommandError(f"{path}: CSV header is missing column(s) {', '.join(missing)}")
        try:
            with path.open("rb") as stream:
                batch = create_batch(
                    organization=org, payload=stream, fmt=fmt, source="cli", filename=path.name,
                    created_by="command:ingest_events",
                )  # fmt: skip
        except Unreadable as exc:
            raise CommandError(f"{path}: {exc}") from exc
        # With a broker a worker takes the batch; this waits for it and helps if it stalls.
        batch = wait_for_batch(batch.pk)
        if batch.status == BatchStatus.FAILED:
            raise CommandError(f"batch {batch.pk}: {batch.error}")
        self.stdout.write(batch.counts_line)
