#!/usr/bin/env python
"""Ingestion benchmark (PostgreSQL). Prints figures; asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chargeback_bench \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 \
    .venv/bin/python bench/ingest.py --events 1000000 [--http-requests 1000]

1. Generates N realistic events as NDJSON (streamed to a temporary file).
2. Ingests them through the task's code path (process_batch: above INGEST_PREPARERS_MIN_BYTES,
   with INGEST_PREPARERS forked preparer processes) and reports events/s and the peak memory
   (the PSS of this process and its preparers together, sampled every 0.1 s).
3. COPYs the very same rows into an identically indexed scratch table: the raw COPY rate.
4. Replays the same file: 0 rows inserted, and the time as a share of the first ingest.
5. (--http-requests R) starts gunicorn and a Celery worker, sends R parallel POSTs of 100
   events each, and reports status codes, p50/p99 latency of the 202 answers, and whether
   every event was counted exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chargeback.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django_scopes import scope, scopes_disabled  # noqa: E402

from chargeback.provisioning.orgs import create_organization  # noqa: E402
from chargeback.units.models import BusinessUnit, GatewayKey  # noqa: E402
from chargeback.units.structure import save_entity  # noqa: E402
from chargeback.usage import ingest  # noqa: E402
from chargeback.usage.ingest import create_batch, process_batch  # noqa: E402
from chargeback.usage.keys import create_key  # noqa: E402
from chargeback.usage.models import IngestBatch, UsageEvent  # noqa: E402

MODELS = [
    ("openai", "gpt-4o-mini-2024-07-18"), ("openai", "gpt-4.1"), ("anthropic", "claude-sonnet-4-20250514"),
    ("google", "gemini-2.5-flash"), ("mistral", "mistral-large-latest"), ("bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0"),
]  # fmt: skip
TEAMS = [f"T{i:02d}" for i in range(12)]


def memory_line() -> str:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if not child:
        return f"{own:.0f} MB"
    return (
        f"{PssSampler.peak:.0f} MB in all, sampled as PSS (peak RSS: this process {own:.0f} MB, "
        f"each of the {settings.INGEST_PREPARERS} preparer processes up to {child:.0f} MB, "
        "counting the pages they share with it again)"
    )


def setup_org() -> tuple:
    slug = f"bench-{int(time.time())}"
    org, _ = create_organization(
        slug=slug, name=f"Bench {slug}", currency="USD", timezone="Europe/Berlin", admin_email=""
    )
    with scope(organization=org):
        for code in TEAMS:
            unit = save_entity(
                actor="bench",
                obj=BusinessUnit(
                    organization=org, code=code, name=f"Team {code}", owner_email="o@example.com"
                ),
            )
            save_entity(
                actor="bench",
                obj=GatewayKey(
                    organization=org,
                    key_id=f"gk-{code.lower()}",
                    unit=unit,
                    owner_email="o@example.com",
                    environment="",
                ),
            )
        _key, secret = create_key(organization=org, name="bench", actor="bench")
    return org, secret


def event(i: int, rng: random.Random, start: dt.datetime, prefix: str) -> dict:
    provider, model = MODELS[i % len(MODELS)]
    team = TEAMS[i % len(TEAMS)]
    e = {
        "request_id": f"{prefix}-{i:08d}",
        "occurred_at": (start + dt.timedelta(seconds=i % 2_500_000))
        .isoformat()
        .replace("+00:00", "Z"),
        "provider": provider,
        "model": model,
        "input_tokens": rng.randint(50, 8000),
        "output_tokens": rng.randint(0, 1500),
        "status_code": 200 if i % 97 else 500,
        "gateway_key_id": f"gk-{team.lower()}",
        "tags": {"service": f"svc-{i % 7}", "environment": "staging", "workflow": "bench"},
    }
    if i % 3 == 0:
        e["tags"]["team"] = team
    return e


def generate(path: Path, n: int, prefix: str) -> None:
    rng = random.Random(7)
    start = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    with path.open("w") as out:
        for i in range(n):
            out.write(json.dumps(event(i, rng, start, prefix), separators=(",", ":")) + "\n")


def ingest_file(org, path: Path) -> tuple[IngestBatch, float]:
    schedule = ingest.schedule
    ingest.schedule = lambda batch_id: None  # processed below, timed, in this process
    try:
        with scope(organization=org), path.open("rb") as stream:
            batch = create_batch(
                organization=org, payload=stream, fmt="ndjson", source="bench", filename=path.name
            )
    finally:
        ingest.schedule = schedule
    sampler = PssSampler()
    sampler.start()
    started = time.perf_counter()
    try:
        batch = process_batch(batch.pk)
    finally:
        elapsed = time.perf_counter() - started
        sampler.stop()
    PssSampler.peak = max(PssSampler.peak, sampler.high)
    return batch, elapsed


class PssSampler(threading.Thread):
    """The proportional set size (Linux: /proc/PID/smaps_rollup) of this process and its
    children together, every 0.1 s: forked preparers share pages with their parent, which PSS
    counts once, where the sum of their peak RSS counts them again for each process."""

    peak = 0.0  # MB, over every ingest of the run

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.high = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            self.high = max(self.high, self.total())

    def stop(self) -> None:
        self.done.set()
        self.join()

    @staticmethod
    def total() -> float:
        me = os.getpid()
        pids = [me]
        try:
            children = Path(f"/proc/{me}/task/{me}/children").read_text().split()
        except OSError:
            children = []
        pids += [int(p) for p in children]
        kb = 0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        kb += int(line.split()[1])
            except OSError:
                continue
        return kb / 1024


def raw_copy_rate(batch_id: int) -> tuple[int, float]:
    """COPY the batch's rows, dumped to a temporary file, into an identically indexed table."""
    table = UsageEvent._meta.db_table
    with connection.cursor() as cursor, tempfile.TemporaryFile() as dump:
        cursor.execute(
            f"DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy (LIKE {table} INCLUDING ALL)"
        )
        raw = cursor.cursor
        rows = 0
        with raw.copy(
            f"COPY (SELECT * FROM {table} WHERE ingest_batch_id = %s) TO STDOUT", (batch_id,)
        ) as copy:
            for block in copy:
                rows += bytes(block).count(b"\n")
                dump.write(block)
        dump.seek(0)
        started = time.perf_counter()
        with raw.copy("COPY bench_copy FROM STDIN") as copy:
            while block := dump.read(1 << 20):
                copy.write(block)
        if not connection.get_autocommit():
            connection.commit()
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_copy")
    return rows, elapsed


def http_load(org, secret: str, requests: int, per_request: int, concurrency: int) -> None:
    """gunicorn as deploy/gunicorn.conf.py sets it up (threaded workers) with the settings of
    deploy/env.example, and a Celery worker at the systemd unit's CPU priority (nice 19:
    processing can wait, the 202 answers cannot). The load comes from one asyncio client in this
    process, `concurrency` senders at once, whose own CPU time is reported; a sender keeps its
    connection while the server allows (the deployed settings close it after each answer, so
    each request connects, as it would behind a reverse proxy). A warm-up of 4 x concurrency
    one-event POSTs comes first and is not measured. Afterwards it waits until the worker has
    processed every batch, and counts the stored events."""
    port = 8799
    env = {
        **os.environ,
        "SECRET_KEY": "bench-" + "x" * 60,
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "CONN_MAX_AGE": os.environ.get("CONN_MAX_AGE", "60"),
    }
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}", "chargeback.wsgi"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "chargeback", "worker", "--pool=solo", "--loglevel=WARNING", "-n", "bench@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.nice(19),  # noqa: PLW1509 - a plain os.nice, no locks
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/accounts/login/")
                c.getresponse().read()
                break
            except OSError:
                time.sleep(0.2)
        rng = random.Random(11)
        start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
        bodies = [
            "\n".join(
                json.dumps(event(r * per_request + i, rng, start, "http"))
                for i in range(per_request)
            ).encode()
            for r in range(requests)
        ]
        # Warm-up (not measured, not counted): each worker thread opens its database
        # connection and loads what its first request needs, as a running server has.
        warm = [json.dumps(event(i, rng, start, "warmup")).encode() for i in range(4 * concurrency)]
        asyncio.run(_send_all(port, secret, warm, concurrency))
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        results = asyncio.run(_send_all(port, secret, bodies, concurrency))
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
        statuses: dict[int, int] = {}
        for status, _, _ in results:
            statuses[status] = statuses.get(status, 0) + 1
        latencies = sorted(r[1] for r in results if r[0] == 202)
        p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
        print(
            f"http: {requests} POSTs x {per_request} events, concurrency {concurrency}, {wall:.1f} s wall, {requests / wall:.0f} requests/s; the load client used {client_cpu:.1f} s CPU ({100 * client_cpu / wall:.0f}% of one core)"
        )
        print(
            f"http: status codes {statuses}; 5xx: {sum(v for k, v in statuses.items() if k >= 500)}"
        )
        if latencies:
            print(
                f"http: 202 latency p50 {p(0.50):.1f} ms, p95 {p(0.95):.1f} ms, p99 {p(0.99):.1f} ms, max {latencies[-1] * 1000:.1f} ms (target p99 < 200 ms)"
            )
        batch_ids = [b for _, _, b in results if b]
        deadline = time.time() + 900
        with scopes_disabled():
            while (
                time.time() < deadline
                and IngestBatch.objects.filter(pk__in=batch_ids).exclude(status="done").exists()
            ):
                time.sleep(1)
            accepted = sum(
                IngestBatch.objects.filter(pk__in=batch_ids).values_list("accepted", flat=True)
            )
            stored = UsageEvent.objects.filter(
                organization=org, request_id__startswith="http-"
            ).count()
        print(
            f"http: events sent {requests * per_request}, accepted {accepted}, stored {stored}, exactly once: {accepted == stored == requests * per_request}"
        )
    finally:
        for proc in (web, worker):
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


async def _send_all(
    port: int, secret: str, bodies: list[bytes], concurrency: int
) -> list[tuple[int, float, int | None]]:
    """Send every body from `concurrency` senders, each on its own connection (kept alive while
    the server allows; a new one when it closes). Latency: from the request's first byte written to
    the answer's last byte read."""
    pending = list(enumerate(bodies))
    pending.reverse()
    results: list[tuple[int, float, int | None]] = [(0, 0.0, None)] * len(bodies)
    head = (
        "POST /api/v1/usage-events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {secret}\r\nContent-Type: application/x-ndjson\r\n"
        "Content-Length: {}\r\n\r\n"
    )

    async def sender() -> None:
        reader = writer = None
        while pending:
            index, body = pending.pop()
            started = time.perf_counter()
            for _attempt in range(3):  # a closed keep-alive connection: reconnect, resend
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(head.format(len(body)).encode() + body)
                try:
                    status, headers, payload = await _read_response(reader)
                    break
                except (ConnectionError, asyncio.IncompleteReadError):
                    writer.close()
                    reader = writer = None
            else:
                results[index] = (0, time.perf_counter() - started, None)  # no answer
                continue
            elapsed = time.perf_counter() - started
            batch = json.loads(payload).get("batch_id") if status == 202 else None
            results[index] = (status, elapsed, batch)
            if headers.get("connection", "").lower() == "close":
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return results


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    payload = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, payload


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument(
        "--http-requests", type=int, default=0, help="parallel POSTs of 100 events (0: skip)"
    )
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/ingest.py runs on PostgreSQL: set DATABASE_URL=postgres://...")
    with scopes_disabled():
        org, secret = setup_org()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.ndjson"
        t = time.perf_counter()
        generate(path, args.events, "bench")
        print(
            f"generated {args.events:,} events ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s"
        )
        batch, first = ingest_file(org, path)
        rate = batch.accepted / first
        print(f"ingest: {batch.counts_line}")
        print(f"ingest: {first:.1f} s, {rate:,.0f} events/s, peak memory {memory_line()}")
        rows, copy_s = raw_copy_rate(batch.pk)
        copy_rate = rows / copy_s
        print(
            f"raw COPY of the same {rows:,} rows into an indexed table: {copy_s:.1f} s, {copy_rate:,.0f} rows/s"
        )
        print(
            f"ratio: ingest is {100 * rate / copy_rate:.0f}% of the raw COPY rate (target >= 45%)"
        )
        before = UsageEvent.objects.with_scopes_disabled().filter(organization=org).count()
        replay, second = ingest_file(org, path)
        after = UsageEvent.objects.with_scopes_disabled().filter(organization=org).count()
        print(f"replay: {replay.counts_line}")
        print(
            f"replay: {second:.1f} s = {100 * second / first:.0f}% of the first ingest (target <= 60%); rows inserted {after - before}"
        )
        print(f"peak memory over the run: {memory_line()} (target < 300 MB)")
    if args.http_requests:
        http_load(org, secret, args.http_requests, 100, args.concurrency)


if __name__ == "__main__":
    main()
