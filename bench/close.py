#!/usr/bin/env python
"""Month-end close benchmark (PostgreSQL). Prints figures; asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cbclose \
    .venv/bin/python bench/close.py [--units 300] [--events 10000000] [--skip-pdfs]

1. Creates an organisation with --units leaf units (under four divisions and twenty
   departments; a mix of showback and chargeback; the central bucket), a logo, an allocation
   policy (default tiers, 15% platform fee, a manual pool, the unallocated spend as a pool, a
   committed-use discount, activity rates with posted outcome counts) and COPYs the DailyUsage
   rollup of a month of --events events (and of the month before, for the trend evidence):
   day x unit x service x provider/model x environment x attribution method. The rollup is
   kept current by ingestion, not rebuilt at close, so no UsageEvent rows are written.
   One unit uses 55 models, so its statement has 60 lines.
2. Times `draft_statements` for the whole month --repeat times (target: under 5 s).
3. Renders every statement's PDF with two real Celery worker processes (`celery worker
   --concurrency 1`, twice) over Redis (--broker), queueing `render_statement_pdf` for every
   statement and waiting until every pdf_status is done (target: 5 or more PDFs per second).
   Workers are warmed up with two renders first; --pdf-rounds rounds are timed. Each round
   also reports the workers' CPU time per PDF (from /proc) and the load average, because on
   a shared machine the wall-clock rate mostly measures the other processes.
4. Opens the 60-line statement's detail page with Django's test client as a finance member
   --requests times (target: under 200 ms server time). Without that page (billing urls not
   there yet), times the PDF's HTML render instead and says so.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import logging
import math
import os
import pstats
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chargeback.settings")
os.environ.setdefault("DEBUG", "1")
MEDIA = Path(tempfile.mkdtemp(prefix="bench-close-media-"))
os.environ["MEDIA_ROOT"] = str(MEDIA)


def _broker_from_argv() -> str:
    for i, arg in enumerate(sys.argv):
        if arg == "--broker" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if arg.startswith("--broker="):
            return arg.split("=", 1)[1]
    return "redis://127.0.0.1:6379/12"


os.environ["CELERY_BROKER_URL"] = _broker_from_argv()

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

# Pages render {% static %}; the bench has no collectstatic manifest.
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django_scopes import scope, scopes_disabled  # noqa: E402

from chargeback.allocation.policy import parse_policy  # noqa: E402
from chargeback.billing.close import draft_statements  # noqa: E402
from chargeback.billing.models import OutcomeCount, PdfStatus, Statement, StatementLine  # noqa: E402
from chargeback.billing.policy_versions import save_policy  # noqa: E402
from chargeback.calendar import Period  # noqa: E402
from chargeback.provisioning.orgs import create_organization  # noqa: E402
from chargeback.tenancy.models import Membership, Organization, Role  # noqa: E402
from chargeback.units.models import BillingMode, BusinessUnit, UnitKind  # noqa: E402
from chargeback.usage.models import DailyUsage  # noqa: E402

# provider, model, $ per 1M input tokens, $ per 1M output tokens, mean input, mean output
COMMON = [
    ("openai", "gpt-4o-mini", "0.15", "0.60", 1800, 350),
    ("openai", "gpt-4.1", "2.00", "8.00", 3200, 600),
    ("openai", "gpt-4.1-mini", "0.40", "1.60", 2200, 400),
    ("openai", "o4-mini", "1.10", "4.40", 2500, 1400),
    ("anthropic", "claude-sonnet-4", "3.00", "15.00", 4200, 700),
    ("anthropic", "claude-3-5-haiku", "0.80", "4.00", 1500, 300),
    ("google", "gemini-2.5-flash", "0.30", "2.50", 2600, 450),
    ("google", "gemini-2.5-pro", "1.25", "10.00", 5200, 900),
    ("bedrock", "anthropic.claude-3-haiku", "0.25", "1.25", 1200, 250),
    ("azure", "gpt-4o", "2.50", "10.00", 2800, 500),
    ("mistral", "mistral-large", "2.00", "6.00", 2000, 400),
    ("openai", "text-embedding-3-small", "0.02", "0", 600, 0),
]
# The wide unit's extra models: fine-tunes and per-region deployments (55 models in all).
WIDE = (
    COMMON
    + [
        (p, f"{m}-{suffix}", pi, po, mi, mo)
        for suffix in ("ft-support-v1", "ft-support-v2", "eu-west", "us-east")
        for p, m, pi, po, mi, mo in COMMON[:11]
    ][:43]
)
WIDE_MODELS = len(WIDE)
SUFFIXES = ["assistant", "summarizer", "classifier", "search", "agent", "extractor", "drafts"]
ENVIRONMENTS = [("production", 0.75), ("staging", 0.15), ("development", 0.10)]
ATTRIBUTIONS = [("gateway_key", 0.60), ("team_tag", 0.25), ("service", 0.10), ("rule", 0.05)]
COLUMNS = (
    "organization_id", "day", "unit_id", "service", "provider", "model", "environment",
    "attribution", "requests", "errors", "input_tokens", "output_tokens", "cached_input_tokens",
    "cost", "error_cost",
)  # fmt: skip
E12 = Decimal("1e-12")
MILLION = Decimal(1_000_000)


# Building the organisation --------------------------------------------------------------------


def build_org(units: int) -> tuple[Organization, list[BusinessUnit], BusinessUnit]:
    slug = f"bench-close-{int(time.time())}"
    org, _ = create_organization(
        slug=slug, name=f"Bench {slug}", currency="USD", timezone="Europe/Berlin", country="DE"
    )
    org.logo.save("logo.png", ContentFile(_logo_png()), save=True)
    central = BusinessUnit.objects.get(organization=org, is_central=True)
    divisions = BusinessUnit.objects.bulk_create(
        BusinessUnit(organization=org, code=f"DIV-{d}", name=f"Division {d}", kind=UnitKind.DIVISION, owner_email=f"div-{d.lower()}@example.com")
        for d in "ABCD"
    )  # fmt: skip
    departments = BusinessUnit.objects.bulk_create(
        BusinessUnit(organization=org, code=f"DEP-{i:02d}", name=f"Department {i:02d}", kind=UnitKind.DEPARTMENT, parent=divisions[i % 4], owner_email=f"dep-{i:02d}@example.com")
        for i in range(20)
    )  # fmt: skip
    rng = random.Random(3)
    leaves = BusinessUnit.objects.bulk_create(
        BusinessUnit(
            organization=org, code=f"U{i:03d}", name=f"Team {i:03d}", kind=UnitKind.TEAM,
            parent=departments[i % 20], owner_email=f"lead-{i:03d}@example.com",
            billing_mode=BillingMode.CHARGEBACK if rng.random() < 0.6 else BillingMode.SHOWBACK,
        )
        for i in range(1, units + 1)
    )  # fmt: skip
    return org, leaves, central


def _logo_png() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 120), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 110, 110), fill="#1f4e79")
    draw.text((130, 45), "BENCH ORGANISATION", fill="#1f4e79")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def policy_for_bench(org: Organization, label: str, leaves: list[BusinessUnit]) -> list[str]:
    rated = [u.code for u in leaves[10:16]]
    doc = {
        "effective_from": label,
        "charge_basis": "token",
        "tier_mode": "volume",
        "tiers": [
            {"name": "Experimental", "up_to_tokens": 10_000_000, "markup": "0.50"},
            {"name": "Standard", "up_to_tokens": 100_000_000, "markup": "0.20"},
            {"name": "Enterprise", "up_to_tokens": None, "markup": "0.10"},
        ],
        "platform_fee": {"percent": "0.15", "fixed_per_unit": "0.00"},
        "failed_requests": "owner",
        "pools": [
            {
                "name": "Gateway infrastructure",
                "source": "manual",
                "amount": "12000.00",
                "basis": "spend",
                "targets": "all",
            },
            {
                "name": "Unallocated spend",
                "source": "unallocated",
                "basis": "requests",
                "targets": "all",
            },
        ],  # fmt: skip
        "hybrid": {"central_baseline_per_unit": "0.00"},
        "activity_rates": [
            {"unit": code, "outcome": "resolved_ticket", "rate": "0.50"} for code in rated
        ],
        "discounts": [{"name": "Committed use", "amount": "25000.00", "basis": "model_spend"}],
    }
    save_policy(organization=org, policy=parse_policy(doc), actor="bench")
    return rated


def outcomes(org: Organization, first: dt.date, leaves: list[BusinessUnit], rated: list[str]):
    rng = random.Random(5)
    rows = [
        OutcomeCount(organization=org, unit=u, month=first, outcome="resolved_ticket", count=rng.randint(20_000, 90_000), source="bench")
        for u in leaves
        if u.code in rated or rng.random() < 0.05
    ]  # fmt: skip
    OutcomeCount.objects.bulk_create(rows)


# The rollup -----------------------------------------------------------------------------------


def month_rows(
    org: Organization,
    period: Period,
    leaves: list[BusinessUnit],
    central: BusinessUnit,
    wide: BusinessUnit,
    events: int,
    seed: int,
) -> list[tuple]:
    """Every rollup row of a month of `events` events, requests summing exactly to `events`."""
    rng = random.Random(seed)
    days = [period.first + dt.timedelta(days=i) for i in range((period.last - period.first).days + 1)]  # fmt: skip
    day_weight = {d: (0.35 if d.weekday() >= 5 else 1.0) for d in days}
    # Each unit: a size, its services, and per service the models it calls.
    shapes = []
    for unit in [central, *leaves]:
        size = rng.lognormvariate(0, 1.2) * (3 if unit is central else 1)
        names = [f"{unit.code.lower()}-{s}" for s in rng.sample(SUFFIXES, rng.randint(2, 5))]
        if unit is wide:
            picks = list(WIDE)
            per_service = {n: picks[i :: len(names)] for i, n in enumerate(names)}
        else:
            picks = rng.sample(COMMON, rng.randint(1, 4))
            per_service = {n: rng.sample(picks, min(len(picks), rng.randint(1, 2))) for n in names}
        shapes.append((unit, size, per_service))
    keys, weights = [], []
    for day in days:
        for unit, size, per_service in shapes:
            for service, models in per_service.items():
                for provider, model, *_ in models:
                    for env, p_env in ENVIRONMENTS:
                        if env != "production" and rng.random() > 0.4:
                            continue
                        methods = [("central", 0.7), ("gateway_key", 0.3)] if unit is central else ATTRIBUTIONS  # fmt: skip
                        for method, p_method in methods:
                            if p_method < 0.2 and rng.random() > 0.5:
                                continue
                            keys.append((day, unit.pk, service, provider, model, env, method))
                            weights.append(
                                size * day_weight[day] * p_env * p_method * rng.uniform(0.3, 1.7)
                                / len(models)
                            )  # fmt: skip
    requests = _split(events, weights)
    prices = {(p, m): (Decimal(pi), Decimal(po), mi, mo) for p, m, pi, po, mi, mo in WIDE}
    rows = []
    for key, n in zip(keys, requests, strict=True):
        if n <= 0:
            continue
        day, unit_id, service, provider, model, env, method = key
        pin, pout, mean_in, mean_out = prices[(provider, model)]
        inp = int(n * mean_in * rng.uniform(0.7, 1.3))
        out = int(n * mean_out * rng.uniform(0.7, 1.3))
        cached = inp // 10
        cost = ((inp - cached) * pin + cached * pin / 10 + out * pout) / MILLION
        errors = int(n * 0.015 * rng.random() * 2)
        error_cost = cost * errors / n
        rows.append((org.pk, day, unit_id, service, provider, model, env, method, n, errors, inp, out, cached, cost.quantize(E12), error_cost.quantize(E12)))  # fmt: skip
    return rows


def _split(total: int, weights: list[float]) -> list[int]:
    """Integers proportional to `weights` that sum exactly to `total` (largest remainder)."""
    scale = total / sum(weights)
    exact = [w * scale for w in weights]
    parts = [math.floor(x) for x in exact]
    order = sorted(range(len(exact)), key=lambda i: parts[i] - exact[i])
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def copy_rows(rows: list[tuple]) -> None:
    table = DailyUsage._meta.db_table
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"ANALYZE {table}")


def reuse(slug: str) -> tuple[Organization, Period, BusinessUnit]:
    """An organisation an earlier run built (its month is still last month)."""
    org = Organization.objects.get(slug=slug)
    org.logo.save("logo.png", ContentFile(_logo_png()), save=True)  # media is per run
    period = Period.current(org.tz).previous
    rows = DailyUsage.objects.filter(organization=org, day__gte=period.first, day__lte=period.last)
    print(f"setup: reusing org {slug}: {rows.count():,} rollup rows in {period.label}")
    return org, period, BusinessUnit.objects.get(organization=org, code="U001")


def build(args: argparse.Namespace) -> tuple[Organization, Period, BusinessUnit]:
    if args.org:
        return reuse(args.org)
    t = time.perf_counter()
    org, leaves, central = build_org(args.units)
    period = Period.current(org.tz).previous
    before = period.previous
    rated = policy_for_bench(org, period.label, leaves)
    outcomes(org, period.first, leaves, rated)
    wide = leaves[0]
    this = month_rows(org, period, leaves, central, wide, args.events, seed=1)
    last = month_rows(org, before, leaves, central, wide, int(args.events * 0.92), seed=2)
    copy_rows(this + last)
    print(
        f"setup: org {org.slug}: {len(leaves)} leaf units + 24 divisions/departments + central; "
        f"{period.label}: {sum(r[8] for r in this):,} events in {len(this):,} rollup rows "
        f"({before.label}: {len(last):,} rows); {time.perf_counter() - t:.1f} s"
    )
    return org, period, wide


# Measurements ---------------------------------------------------------------------------------


def time_drafts(org: Organization, period: Period, repeat: int, profile: bool) -> None:
    totals, stages = [], defaultdict(list)
    for i in range(repeat):
        marks: list[tuple[str, float]] = []
        t = time.perf_counter()
        with scope(organization=org):
            draft_statements(
                org,
                period,
                actor="bench",
                progress=lambda stage, done, total, marks=marks: marks.append(
                    (stage, time.perf_counter())
                ),
            )
        end = time.perf_counter()
        totals.append(end - t)
        points = [("start", t), *marks, ("end", end)]
        for (name, a), (_, b) in zip(points, points[1:], strict=False):
            if name != "start":
                stages[name].append(b - a)
        print(f"drafts: run {i + 1}: {end - t:.2f} s ({load()})")
    with scopes_disabled():
        count = Statement.objects.filter(organization=org, period__month=period.first).count()
        lines = StatementLine.objects.filter(
            organization=org, statement__period__month=period.first
        ).count()
    print(
        f"drafts: {count} statements, {lines:,} lines; p50 {statistics.median(totals):.2f} s, "
        f"best {min(totals):.2f} s, worst {max(totals):.2f} s (target < 5 s); stages p50: "
        + ", ".join(f"{k} {statistics.median(v):.2f} s" for k, v in stages.items())
    )
    if profile:
        profiler = cProfile.Profile()
        with scope(organization=org):
            profiler.runcall(draft_statements, org, period, actor="bench")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue())


def start_workers(queue: str, n: int, log_dir: Path) -> list[subprocess.Popen]:
    from chargeback.celery import app

    env = {**os.environ, "MEDIA_ROOT": str(MEDIA)}
    procs = []
    for i in range(n):
        cmd = [
            sys.executable, "-m", "celery", "-A", "chargeback", "worker", "--concurrency", "1",
            "-Q", queue, "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "-n", f"{queue}-{i}@%h",
        ]  # fmt: skip
        with open(log_dir / f"worker-{i}.log", "w") as out:
            procs.append(
                subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0)
        up = {host for reply in replies for host in reply if host.startswith(queue)}
        if len(up) == n:
            return procs
        if any(p.poll() is not None for p in procs):
            break
    stop_workers(procs)
    sys.exit(f"celery workers did not start; see {log_dir}")


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes and all their descendants (Linux /proc)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    wanted, total = set(pids), 0
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _) in stats.items():
            if ppid in wanted and pid not in wanted:
                wanted.add(pid)
                changed = True
    for pid in wanted:
        total += stats.get(pid, (0, 0))[1]
    return total / os.sysconf("SC_CLK_TCK")


def render_round(
    ids: list[int], queue: str, pids: list[int], timeout: float = 1800
) -> tuple[float, float, int]:
    from chargeback.billing.tasks import render_statement_pdf

    with scopes_disabled():
        Statement.objects.filter(pk__in=ids).update(pdf_status=PdfStatus.QUEUED)
        cpu = cpu_seconds(pids)
        t = time.perf_counter()
        for pk in ids:
            render_statement_pdf.apply_async((pk,), queue=queue)
        pending = Statement.objects.filter(pk__in=ids, pdf_status=PdfStatus.QUEUED)
        while pending.exists() and time.perf_counter() - t < timeout:
            time.sleep(0.1)
        elapsed = time.perf_counter() - t
        cpu = cpu_seconds(pids) - cpu
        failed = Statement.objects.filter(pk__in=ids, pdf_status=PdfStatus.FAILED).count()
    return elapsed, cpu, failed


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def time_pdfs(org: Organization, period: Period, rounds: int) -> None:
    with scopes_disabled():
        ids = list(
            Statement.objects.filter(organization=org, period__month=period.first)
            .order_by("sequence")
            .values_list("pk", flat=True)
        )
    inproc = []
    from chargeback.billing.pdf import render_pdf, statement_html

    with scopes_disabled():
        sample = list(
            Statement.objects.filter(pk__in=ids[:: max(1, len(ids) // 12)]).select_related(
                "organization", "period", "unit"
            )
        )
        render_pdf(sample[0])  # import and font loading
        html_ms, sizes = [], []
        for st in sample:
            t = time.perf_counter()
            statement_html(st)
            html_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            sizes.append(len(render_pdf(st)))
            inproc.append((time.perf_counter() - t) * 1000)
    print(
        f"pdfs: one process, {len(sample)} statements: render p50 {statistics.median(inproc):.0f} ms "
        f"(of which HTML {statistics.median(html_ms):.0f} ms), p95 {p95(inproc):.0f} ms; "
        f"{statistics.median(sizes) / 1024:.0f} KB each"
    )
    queue = f"bench-close-{os.getpid()}"
    log_dir = Path(tempfile.mkdtemp(prefix="bench-close-workers-"))
    procs = start_workers(queue, 2, log_dir)
    pids = [p.pid for p in procs]
    try:
        render_round(ids[:2], queue, pids)  # warm-up: WeasyPrint import and fonts in each worker
        rates, cpu_ms = [], []
        for i in range(rounds):
            before = load()
            elapsed, cpu, failed = render_round(ids, queue, pids)
            rates.append(len(ids) / elapsed)
            cpu_ms.append(cpu * 1000 / len(ids))
            print(
                f"pdfs: round {i + 1}: {len(ids)} PDFs in {elapsed:.1f} s = {rates[-1]:.1f} PDFs/s; "
                f"workers' CPU {cpu_ms[-1]:.0f} ms per PDF ({before} before, {load()} after)"
                + (f"; {failed} FAILED" if failed else "")
            )
        print(
            f"pdfs: two Celery worker processes (--concurrency 1 each, Redis): p50 "
            f"{statistics.median(rates):.1f} PDFs/s (target >= 5); workers' CPU p50 "
            f"{statistics.median(cpu_ms):.0f} ms per PDF, i.e. "
            f"{2000 / statistics.median(cpu_ms):.1f} PDFs/s on two otherwise idle cores"
        )
    finally:
        stop_workers(procs)
        purge(queue)
        shutil.rmtree(log_dir, ignore_errors=True)


def purge(queue: str) -> None:
    from chargeback.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        channel.queue_delete(queue)
        channel.exchange_delete(queue)  # apply_async(queue=...) declared it
        # kombu's Redis transport keeps these two keys for a declared exchange
        channel.client.delete(f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")


def time_page(org: Organization, period: Period, wide: BusinessUnit, requests: int) -> None:
    with scopes_disabled():
        statement = (
            Statement.objects.filter(organization=org, period__month=period.first, unit=wide)
            .select_related("organization", "period", "unit")
            .get()
        )
        lines = statement.lines.count()
        user, created = get_user_model().objects.get_or_create(
            username=f"finance@{org.slug}.example",
            defaults={"email": f"finance@{org.slug}.example"},
        )
        if created:
            Membership.objects.create(organization=org, user=user, role=Role.FINANCE)
    try:
        url = reverse(
            "billing:statement-detail", kwargs={"org_slug": org.slug, "statement_id": statement.pk}
        )
    except Exception as exc:  # the page is not there yet
        print(f"page: no statement page yet ({type(exc).__name__}: {exc}); timing the PDF's HTML")
        url = None
    if url:
        client = Client()
        client.force_login(user)
        response = client.get(url)
        if response.status_code == 200:
            server, sql, counts = measure(client, url, requests)
            print(
                f"page: statement detail with {lines} lines: server p50 {statistics.median(server):.0f} ms, "
                f"p95 {p95(server):.0f} ms (target < 200 ms); SQL p50 {statistics.median(sql):.1f} ms, "
                f"{max(counts)} queries"
            )
            return
        print(f"page: {url} answered {response.status_code}; timing the PDF's HTML instead")
    from chargeback.billing.pdf import statement_html

    times = []
    with scopes_disabled():
        for _ in range(requests):
            st = Statement.objects.select_related("organization", "period", "unit").get(pk=statement.pk)  # fmt: skip
            t = time.perf_counter()
            statement_html(st)
            times.append((time.perf_counter() - t) * 1000)
    print(
        f"page (stand-in: pdf.statement_html) with {lines} lines: p50 {statistics.median(times):.0f} ms, "
        f"p95 {p95(times):.0f} ms"
    )


def measure(client: Client, url: str, n: int) -> tuple[list[float], list[float], list[int]]:
    server, sql, counts = [], [], []
    for _ in range(n):
        spent = [0.0, 0]

        def timer(execute, sql_text, params, many, context, spent=spent):
            t = time.perf_counter()
            try:
                return execute(sql_text, params, many, context)
            finally:
                spent[0] += time.perf_counter() - t
                spent[1] += 1

        t = time.perf_counter()
        with connection.execute_wrapper(timer):
            response = client.get(url)
        server.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, response.status_code
        sql.append(spent[0] * 1000)
        counts.append(spent[1])
    return server, sql, counts


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--units", type=int, default=300, help="leaf units (default 300)")
    parser.add_argument("--events", type=int, default=10_000_000, help="events in the month")
    parser.add_argument("--skip-pdfs", action="store_true", help="do not render the PDFs")
    parser.add_argument("--repeat", type=int, default=5, help="draft runs (default 5)")
    parser.add_argument("--pdf-rounds", type=int, default=3, help="timed PDF rounds (default 3)")
    parser.add_argument("--requests", type=int, default=30, help="page requests (default 30)")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/12", help="Celery broker")
    parser.add_argument("--profile", action="store_true", help="cProfile one draft run")
    parser.add_argument("--org", help="reuse the organisation an earlier run built (its slug)")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/close.py runs on PostgreSQL: set DATABASE_URL=postgres://...")
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the workers on the way out
    print(f"machine: {load()}")
    try:
        with scopes_disabled():
            org, period, wide = build(args)
        time_drafts(org, period, args.repeat, args.profile)
        if not args.skip_pdfs:
            time_pdfs(org, period, args.pdf_rounds)
        time_page(org, period, wide, args.requests)
    finally:
        shutil.rmtree(MEDIA, ignore_errors=True)


if __name__ == "__main__":
    main()
