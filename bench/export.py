#!/usr/bin/env python
"""Export benchmark (PostgreSQL): peak memory and rate of `export_events` for 1M events.
Prints figures; asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cbexport \
    .venv/bin/python bench/export.py [--events 1000000] [--units 60] [--org SLUG] [--only csv]

1. Creates an organisation (Europe/Berlin, USD) with --units teams and the default price book,
   ingests one template event per model through the real ingestion path, then clones them in
   SQL (INSERT ... SELECT over generate_series) into --events events spread over the last 30
   days, and rebuilds the DailyUsage rollup from them with one GROUP BY. --org reuses an
   organisation an earlier run built.
2. Runs `export_events` in a fresh process for each of csv, ndjson, focus 1.3 and focus 1.0,
   over the last 3 days (about a tenth of the events) and the last 30 days (all of them), and
   prints rows, rows/s, the process's peak RSS (ru_maxrss) and its growth over the process
   before the export, and, in a second run of the same export, tracemalloc's peak (Python
   allocations only; tracemalloc slows the run, so the rate comes from the first run).
   Bounded memory shows as the same peak for 3 days and for 30 days.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chargeback.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

settings.DEBUG = False  # no query log: it would grow with the export's chunk fetches

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from chargeback.pricing.books import load_default_prices  # noqa: E402
from chargeback.provisioning.orgs import create_organization  # noqa: E402
from chargeback.tenancy.models import Organization  # noqa: E402
from chargeback.tenancy.scoping import within  # noqa: E402
from chargeback.units.models import BusinessUnit, UnitKind  # noqa: E402
from chargeback.usage.ingest import create_batch, process_batch  # noqa: E402
from chargeback.usage.models import DailyUsage, UsageEvent  # noqa: E402

MODELS = [
    ("openai", "gpt-4o-mini"), ("openai", "gpt-4.1"), ("openai", "gpt-4.1-mini"),
    ("anthropic", "claude-sonnet-4"), ("google", "gemini-2.5-flash"), ("openai", "o4-mini"),
]  # fmt: skip
EXPORTS = [
    ("csv", ["--format", "csv"]),
    ("ndjson", ["--format", "ndjson"]),
    ("focus 1.3", ["--format", "focus"]),
    ("focus 1.0", ["--format", "focus", "--focus-version", "1.0"]),
]


def build(events: int, units: int) -> Organization:
    slug = f"bench-export-{int(time.time())}"
    org, _ = create_organization(slug=slug, name=f"Bench {slug}", currency="USD",
                                 timezone="Europe/Berlin", country="DE")  # fmt: skip
    with within(org):
        load_default_prices(org, actor="bench")
        BusinessUnit.objects.bulk_create(
            BusinessUnit(organization=org, code=f"U{i:03d}", name=f"Team {i:03d}",
                         kind=UnitKind.TEAM, owner_email=f"lead-{i:03d}@example.com")
            for i in range(1, units + 1)
        )  # fmt: skip
        now = timezone.now().replace(microsecond=0)
        templates = [
            {"request_id": f"tpl-{i}", "occurred_at": now.isoformat().replace("+00:00", "Z"),
             "provider": p, "model": m, "input_tokens": 1500 + 100 * i, "output_tokens": 300,
             "tags": {"team": "U001", "service": f"svc-{i}", "environment": "production",
                      "cost_center": "U001",
                      "workflow": "bench"}}
            for i, (p, m) in enumerate(MODELS)
        ]  # fmt: skip
        payload = "".join(json.dumps(t) + "\n" for t in templates).encode()
        batch = create_batch(organization=org, payload=payload, fmt="ndjson", source="bench")
    batch = process_batch(batch.pk)
    assert batch.accepted == len(MODELS), (batch.accepted, batch.quarantined)
    t = time.perf_counter()
    clone(org, events, units)
    print(f"setup: {events:,} events cloned and the rollup rebuilt in "
          f"{time.perf_counter() - t:.1f} s (org {org.slug})")  # fmt: skip
    return org


def clone(org: Organization, events: int, units: int) -> None:
    """The template events cloned `events` times in SQL: every unit with every model, spread
    evenly over the last 30 days; then the rollup rebuilt from them."""
    table = UsageEvent._meta.db_table
    fields = [f for f in UsageEvent._meta.concrete_fields if not f.primary_key]
    varying = {
        "request_id": "'bench-' || g",
        "occurred_at": "now() - (g * interval '1 second' * 2592000 / %(n)s)",
        "unit_id": "(SELECT id FROM units WHERE units.i = g %% %(units)s)",
        "input_tokens": "t.input_tokens + g %% 997",
        "fingerprint": "md5(g::text)",
        "team": "(SELECT code FROM units WHERE units.i = g %% %(units)s)",
        "ingested_at": "now()",
    }
    columns = ", ".join(f'"{f.column}"' for f in fields)
    values = ", ".join(varying.get(f.column, f't."{f.column}"') for f in fields)
    unit_table = BusinessUnit._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH units AS (SELECT id, code, row_number() OVER (ORDER BY code) - 1 AS i "  # noqa: S608
            f"FROM {unit_table} WHERE organization_id = %(org)s AND code LIKE 'U%%'), "
            f"tpl AS (SELECT *, row_number() OVER (ORDER BY id) - 1 AS k FROM {table} "
            f"WHERE organization_id = %(org)s) "
            f"INSERT INTO {table} ({columns}) SELECT {values} "
            f"FROM generate_series(1, %(n)s) g JOIN tpl t ON t.k = (g / %(units)s) %% %(models)s",
            {"org": org.pk, "n": events, "units": units, "models": len(MODELS)},
        )
        rollup = DailyUsage._meta.db_table
        cursor.execute(f"DELETE FROM {rollup} WHERE organization_id = %s", [org.pk])  # noqa: S608
        cursor.execute(
            f"INSERT INTO {rollup} (organization_id, day, unit_id, service, provider, model, "  # noqa: S608
            "environment, attribution, requests, errors, input_tokens, output_tokens, "
            "cached_input_tokens, cost, error_cost, cache_hit_tokens) "
            "SELECT organization_id, (occurred_at AT TIME ZONE %s)::date, unit_id, service, "
            "provider, model, environment, attribution, count(*), "
            "count(*) FILTER (WHERE is_error), sum(input_tokens), sum(output_tokens), "
            "sum(cached_input_tokens), sum(cost), coalesce(sum(cost) FILTER (WHERE is_error), 0), 0 "
            f"FROM {table} WHERE organization_id = %s "
            "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
            [str(org.tz), org.pk],
        )
        cursor.execute(f"ANALYZE {table}")
        cursor.execute(f"ANALYZE {rollup}")


def measure(slug: str, since: str, args: list[str], traced: bool) -> dict:
    """One export in this process: rows, seconds, peak RSS (KiB) and its growth."""
    org = Organization.objects.get(slug=slug)
    connection.ensure_connection()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if traced:
        tracemalloc.start()
    out = Path(tempfile.mkdtemp(prefix="bench-export-")) / "out"
    t = time.perf_counter()
    call_command("export_events", "--org", org.slug, "--since", since, "--output", str(out),
                 *args, stdout=io.StringIO())  # fmt: skip
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] if traced else None
    rows = sum(1 for _ in out.open()) - (0 if "ndjson" in args else 1)
    size = out.stat().st_size
    out.unlink()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rows": rows, "seconds": seconds, "rss_kib": after, "rss_growth_kib": after - before,
            "traced_peak": peak, "bytes": size}  # fmt: skip


def child(slug: str, since: str, args: list[str], traced: bool) -> dict:
    command = [sys.executable, __file__, "--measure", json.dumps([slug, since, args, traced])]
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--units", type=int, default=60)
    parser.add_argument("--org", help="reuse an organisation an earlier run built")
    parser.add_argument("--only", choices=[label for label, _ in EXPORTS], action="append",
                        help="run only these exports (repeatable)")  # fmt: skip
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        slug, since, export_args, traced = json.loads(args.measure)
        print(json.dumps(measure(slug, since, export_args, traced)))
        return
    if connection.vendor != "postgresql":
        sys.exit("bench/export.py needs PostgreSQL (DATABASE_URL=postgres://...)")
    slug = args.org or build(args.events, args.units).slug
    print(f"{'export':<10} {'since':>5} {'rows':>10} {'rows/s':>9} {'MB':>7} "
          f"{'peak RSS':>9} {'RSS growth':>10} {'tracemalloc peak':>16}")  # fmt: skip
    for label, export_args in EXPORTS:
        if args.only and label not in args.only:
            continue
        for since in ("3d", "30d"):
            plain = child(slug, since, export_args, traced=False)
            traced = child(slug, since, export_args, traced=True)
            print(
                f"{label:<10} {since:>5} {plain['rows']:>10,} "
                f"{plain['rows'] / plain['seconds']:>9,.0f} {plain['bytes'] / 1e6:>7.1f} "
                f"{plain['rss_kib'] / 1024:>7.1f}MB {plain['rss_growth_kib'] / 1024:>8.1f}MB "
                f"{traced['traced_peak'] / 1024 / 1024:>14.1f}MB",
                flush=True,
            )


if __name__ == "__main__":
    main()
