"""`audit_sample --org SLUG FILE [--format ...] [--json]`: a sample of gateway logs checked
as the pipeline would check it, and never ingested (nothing is written)."""

import json
from decimal import Decimal
from pathlib import Path

from django.core.management.base import CommandError

from chargeback.money import quantize
from chargeback.reconciliation.sample import PayloadError, as_json, audit_sample
from chargeback.tenancy.cli import format_from
from chargeback.tenancy.scoping import OrgCommand
from chargeback.usage.records import FORMATS
from chargeback.usage.sniff import HEAD, by_content


def _pct(share) -> str:
    return "-" if share is None else f"{Decimal(share):.2%}"


def table(data: dict) -> str:
    a = data["attribution"]
    out = [
        f"{data['records']} records ({data['format']}"
        + (", the first only: the file has more" if data["truncated"] else "")
        + f"): {data['accepted']} would be stored, {data['quarantined']} quarantined",
        f"attributed by tags or keys: {_pct(a['records_share'])} of records, "
        f"{_pct(a['cost_share'])} of cost ({quantize(a['attributed_cost'], a['currency'])} of "
        f"{quantize(a['cost'], a['currency'])} {a['currency']}); "
        f"central fallback: {a['central_records']} records",
        "missing fields (records without):",
    ]
    out += [
        f"  {m['field']:<16}{m['records']:>8}{'  required' if m['required'] else ''}"
        for m in data["missing"]
    ]
    out.append("would be quarantined:" if data["quarantine"] else "would be quarantined: none")
    out += [
        f"  {q['code']} ({q['field']}): {q['records']}, first lines "
        f"{', '.join(map(str, q['first_lines']))}: {q['example']}"
        for q in data["quarantine"]
    ]
    return "\n".join(out)


class Command(OrgCommand):
    help = (
        "Audit a sample of gateway logs before onboarding, without ingesting it: missing "
        "fields, attribution coverage, and what would be quarantined and why."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="sample file (any format ingest_events reads)")
        parser.add_argument(
            "--format", choices=FORMATS, help="default: from the file name and content, else ndjson"
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle_org(self, org, *args, **opts):
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"file not found: {path}")
        if path.stat().st_size == 0:
            raise CommandError(f"{path}: the file is empty")
        fmt = format_from(str(path), opts["format"], ("ndjson", "json", "csv", "otel", "litellm"))
        if not opts["format"]:  # ingest_events' rule: OTLP and LiteLLM files told by content
            with path.open("rb") as f:
                fmt = by_content(fmt, f.read(HEAD))
        try:
            with path.open("rb") as stream:
                data = as_json(audit_sample(org, stream, fmt))
        except PayloadError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        return json.dumps(data, indent=2) if opts["json"] else table(data)
