#!/usr/bin/env python
"""Dashboard benchmark (PostgreSQL). Prints figures; asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chargeback_bench \
    .venv/bin/python bench/dashboard.py [--units 60] [--services 40] [--requests 50] [--months 5]

1. Creates an organisation with --units units and writes the rollups (DailyUsage, and
   MonthlyUsage and DailyUnitUsage with it, as ingestion writes them) for the current month
   and the --months - 1 before it: every (day, unit, service, model, environment) that a month
   of about 10M events produces (rows, not events: dashboards read only the rollups).
2. Logs in a finance member with Django's test client and opens the overview (month to date,
   last month whole, last 90 days and the last 183 days as a custom range; the long windows
   filtered by one service, one model or one environment, and by two dimensions at once) and
   one unit page, unfiltered and filtered by a service, --requests times each, reporting
   p50/p95 server time, the SQL time and query count per request, the Python CPU time per
   request and the mean CPU time of the PostgreSQL backend per request (both of which other
   processes on a busy machine do not inflate; the load average is printed too).

Runs with DEBUG off, as in production (a development SECRET_KEY is allowed for the bench).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chargeback.settings")
os.environ.setdefault("CHARGEBACK_ALLOW_INSECURE_KEY", "1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

# Pages render {% static %}; the bench has no collectstatic manifest.
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402

from chargeback.calendar import Period  # noqa: E402
from chargeback.provisioning.orgs import create_organization  # noqa: E402
from chargeback.tenancy.models import Membership, Role  # noqa: E402
from chargeback.units.models import BusinessUnit  # noqa: E402
from chargeback.usage.rollup import write_rollup  # noqa: E402

MODELS = [("openai", "gpt-4o-mini"), ("openai", "gpt-4.1"), ("anthropic", "claude-sonnet-4"),
          ("google", "gemini-2.5-flash"), ("mistral", "mistral-large"), ("bedrock", "claude-3-5-haiku")]  # fmt: skip
ENVIRONMENTS = ["production", "staging"]
ATTRIBUTIONS = ["gateway_key", "gateway_key", "team_tag", "central"]


def build(units: int, services: int, months: int) -> tuple:
    rng = random.Random(1)
    slug = f"bench-dash-{int(time.time())}"
    org, _ = create_organization(
        slug=slug, name=f"Bench {slug}", currency="USD", timezone="Europe/Berlin"
    )
    central = BusinessUnit.objects.get(organization=org, is_central=True) if BusinessUnit.objects.filter(organization=org, is_central=True).exists() else BusinessUnit.objects.create(organization=org, code="CENTRAL", name="Central", owner_email="o@example.com", is_central=True)  # fmt: skip
    made = [central] + [
        BusinessUnit.objects.create(organization=org, code=f"U{i:03d}", name=f"Unit {i:03d}", owner_email="o@example.com")
        for i in range(units)
    ]  # fmt: skip
    today = dt.datetime.now(org.tz).date()
    first = Period.of(today).first
    for _ in range(months - 1):
        first = Period.of(first).previous.first
    rows: dict[tuple, list] = {}
    events = 0
    day = first
    while day <= today:
        for unit in made:
            for s in rng.sample(range(services), 4):
                provider, model = rng.choice(MODELS)
                requests = rng.randint(500, 4000)
                cost = Decimal(requests) * Decimal("0.004") * Decimal(str(rng.uniform(0.5, 2)))
                key = (org.pk, day, unit.pk, f"svc-{s:03d}", provider, model,
                       rng.choice(ENVIRONMENTS), rng.choice(ATTRIBUTIONS))  # fmt: skip
                if key in rows:  # the same row drawn twice: the first one stands
                    continue
                events += requests
                rows[key] = [
                    requests, requests // 50, requests * 1200, requests * 300, requests * 100,
                    cost.quantize(Decimal("1e-12")), (cost / 50).quantize(Decimal("1e-12")), 0,
                ]  # fmt: skip
        day += dt.timedelta(days=1)
    with transaction.atomic():
        write_rollup(rows)
    user = get_user_model().objects.create_user(
        username=f"finance@{slug}.example", email=f"finance@{slug}.example"
    )
    Membership.objects.create(organization=org, user=user, role=Role.FINANCE)
    return org, user, made[1], len(rows), events


def measure(
    client: Client, url: str, n: int
) -> tuple[list[float], list[float], list[int], list[float]]:
    server, sql, counts, cpu = [], [], [], []
    for _ in range(n):
        spent = [0.0, 0]

        def timer(execute, sql_text, params, many, context, spent=spent):
            t = time.perf_counter()
            try:
                return execute(sql_text, params, many, context)
            finally:
                spent[0] += time.perf_counter() - t
                spent[1] += 1

        t, c = time.perf_counter(), time.process_time()
        with connection.execute_wrapper(timer):
            response = client.get(url, secure=True)  # secure: no HTTPS redirect with DEBUG off
        server.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        assert response.status_code == 200, response.status_code
        sql.append(spent[0] * 1000)
        counts.append(spent[1])
    return server, sql, counts, cpu


def backend_cpu() -> float | None:
    """CPU seconds the PostgreSQL backend serving this connection has used, when it runs on
    this machine (/proc readable): unlike the SQL wall time, not inflated by other processes."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--units", type=int, default=60)
    parser.add_argument("--services", type=int, default=40)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--months", type=int, default=5, help="months of rollup, this one included")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/dashboard.py runs on PostgreSQL: set DATABASE_URL=postgres://...")
    with scopes_disabled():
        t = time.perf_counter()
        org, user, unit, rows, events = build(args.units, args.services, args.months)
        print(
            f"rollup: {rows:,} rows for {events:,} events over {args.months} months, written in {time.perf_counter() - t:.1f} s"
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE usage_dailyusage")
        cursor.execute("ANALYZE usage_monthlyusage")
        cursor.execute("ANALYZE usage_dailyunitusage")
    client = Client()
    client.force_login(user)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    last_month = Period.of(dt.date.today()).previous.label
    today = dt.datetime.now(org.tz).date()
    half_year = f"period=custom&from={today - dt.timedelta(days=182)}&to={today}"
    for label, url in (
        ("overview, month to date", f"/o/{org.slug}/"),
        (f"overview, last month ({last_month}, whole)", f"/o/{org.slug}/?period={last_month}"),
        ("overview, last 90 days", f"/o/{org.slug}/?period=90d"),
        ("overview, last 183 days (custom)", f"/o/{org.slug}/?{half_year}"),
        ("overview, last 183 days, one service", f"/o/{org.slug}/?{half_year}&service=svc-001"),
        (
            "overview, last 90 days, one model",
            f"/o/{org.slug}/?period=90d&provider=openai&model=gpt-4.1",
        ),
        (
            "overview, last 183 days, one environment",
            f"/o/{org.slug}/?{half_year}&environment=staging",
        ),
        (
            "overview, last 183 days, service and environment (by day)",
            f"/o/{org.slug}/?{half_year}&service=svc-001&environment=staging",
        ),
        ("unit page", f"/o/{org.slug}/units/{unit.pk}/spend/"),
        (
            "unit page, last 183 days, one service",
            f"/o/{org.slug}/units/{unit.pk}/spend/?{half_year}&service=svc-001",
        ),
    ):
        client.get(url, secure=True)  # warm up
        before = backend_cpu()
        server, sql, counts, cpu = measure(client, url, args.requests)
        after = backend_cpu()
        backend = (
            f"; PostgreSQL CPU mean {(after - before) * 1000 / args.requests:.1f} ms"
            if before is not None and after is not None
            else ""
        )
        print(
            f"{label}: server p50 {statistics.median(server):.0f} ms, p95 {p95(server):.0f} ms; "
            f"SQL p50 {statistics.median(sql):.1f} ms, p95 {p95(sql):.1f} ms; {max(counts)} queries; "
            f"Python CPU p50 {statistics.median(cpu):.0f} ms{backend}"
        )


if __name__ == "__main__":
    main()
