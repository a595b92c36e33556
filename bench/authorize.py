#!/usr/bin/env python
"""Gateway authorization benchmark (PostgreSQL). Prints figures; checks no error and no
overdraft at the higher concurrency.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chargeback_bench \
    .venv/bin/python bench/authorize.py [--entries 1000000] [--requests 4000]

(`--entries 0` adds none: for a second run on a table that holds a first run's entries.)

1. Sets up an organisation in enforce mode with the default price book, 20 units, each with a
   gateway key and a hard team wallet, and an ingestion key; then fills the ledger with
   `--entries` funding entries spread over the wallets (one INSERT ... SELECT; the wallets'
   cached balances are set to the sums, as the ledger's write path would leave them).
2. Starts gunicorn as deploy/gunicorn.conf.py sets it up (threaded workers, the deployed
   settings: DEBUG off, CONN_MAX_AGE 60) on the loopback, warms it up, then sends `--requests`
   `POST /api/v1/authorize` from one asyncio client at concurrency 8, then at 50, each request on
   its own connection (the deployed settings close it after each answer, as behind a reverse
   proxy). Every fourth request is priced from provider, model and token counts, the others
   carry an estimated cost. Latency: from the request's first byte written to the answer's last
   byte read. Before them, the same number of requests with a malformed key measures the
   stack's floor on this machine (server, client and network, no SQL: a 401).
3. At concurrency 50 half of the requests go to one wallet funded for exactly 100 of them: the
   run checks every answer was a 200, that wallet gave exactly 100 allows, and no hard wallet
   holds more than its balance (reserved <= balance, reserved = its open reservations).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chargeback.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.db.models import Sum  # noqa: E402
from django_scopes import scope, scopes_disabled  # noqa: E402

from chargeback.gateway.models import Enforcement  # noqa: E402
from chargeback.pricing.books import load_default_prices  # noqa: E402
from chargeback.provisioning.orgs import create_organization  # noqa: E402
from chargeback.units.models import BusinessUnit, GatewayKey  # noqa: E402
from chargeback.units.structure import save_entity  # noqa: E402
from chargeback.usage.keys import create_key  # noqa: E402
from chargeback.wallets.accounts import open_wallet  # noqa: E402
from chargeback.wallets.ledger import post_entry  # noqa: E402
from chargeback.wallets.models import LedgerEntry, Reservation, Wallet  # noqa: E402

UNITS = [f"U{i:02d}" for i in range(20)]
SCARCE = "U00"  # funded for exactly SCARCE_COVERS requests of SCARCE_COST
SCARCE_COST, SCARCE_COVERS = Decimal("0.05"), 100
PORT = 8798


def setup_org(entries: int) -> tuple:
    slug = f"bench-authz-{int(time.time())}"
    org, _ = create_organization(
        slug=slug, name=f"Bench {slug}", currency="USD", timezone="Europe/Berlin", admin_email=""
    )
    with scope(organization=org):
        load_default_prices(org, actor="bench")
        wallets = []
        for code in UNITS:
            unit = save_entity(actor="bench", obj=BusinessUnit(
                organization=org, code=code, name=f"Team {code}", owner_email="o@example.com"))  # fmt: skip
            save_entity(actor="bench", obj=GatewayKey(
                organization=org, key_id=f"gk-{code.lower()}", unit=unit,
                owner_email="o@example.com"))  # fmt: skip
            wallets.append(open_wallet(organization=org, unit=unit, kind="team", actor="bench"))
        Enforcement.objects.create(organization=org, mode="enforce")
        _key, secret = create_key(organization=org, name="bench", actor="bench")
    funded = [w for w in wallets if w.unit.code != SCARCE]
    if entries:
        fill_ledger(org, funded, entries)
    with scope(organization=org):
        if not entries:  # --entries 0: the table holds a previous run's entries already
            for w in funded:
                post_entry(wallet=w, type="funding", amount="100000.00", reason="bench",
                           actor="bench")  # fmt: skip
            print(f"ledger: {LedgerEntry.objects.with_scopes_disabled().count():,} entries in "
                  "the table (kept from a previous run)")  # fmt: skip
        scarce = next(w for w in wallets if w.unit.code == SCARCE)
        post_entry(wallet=scarce, type="funding", amount=SCARCE_COST * SCARCE_COVERS,
                   reason="bench", actor="bench")  # fmt: skip
    return org, secret, scarce


def fill_ledger(org, wallets: list, entries: int) -> None:
    """`entries` funding entries of 1.00 each, round-robin over the wallets, in one statement."""
    ids = [w.pk for w in wallets]
    t = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {LedgerEntry._meta.db_table}
                (organization_id, wallet_id, type, amount, pending, reason, idempotency_key,
                 created_by, created_at)
                SELECT %s, (%s::bigint[])[1 + (n %% %s)], 'funding', 1.00, 0, 'bench', '',
                       'bench', now() - (n || ' seconds')::interval
                FROM generate_series(1, %s) AS n""",  # noqa: S608
            [org.pk, ids, len(ids), entries],
        )
        cursor.execute(
            f"""UPDATE {Wallet._meta.db_table} w SET balance = s.total
                FROM (SELECT wallet_id, SUM(amount) AS total FROM {LedgerEntry._meta.db_table}
                      WHERE wallet_id = ANY(%s) GROUP BY wallet_id) s
                WHERE w.id = s.wallet_id""",  # noqa: S608
            [ids],
        )
        cursor.execute(f"ANALYZE {LedgerEntry._meta.db_table}")
        cursor.execute(f"SELECT count(*) FROM {LedgerEntry._meta.db_table}")  # noqa: S608
        total = cursor.fetchone()[0]
    print(f"ledger: {entries:,} entries added in {time.perf_counter() - t:.1f} s; "
          f"{total:,} in the table")  # fmt: skip


def bodies(prefix: str, n: int, scarce_share: float = 0.0) -> list[bytes]:
    out = []
    for i in range(n):
        scarce = scarce_share and i % int(1 / scarce_share) == 0
        code = SCARCE if scarce else UNITS[1 + i % (len(UNITS) - 1)]
        body = {"gateway_key_id": f"gk-{code.lower()}", "request_id": f"{prefix}-{i}"}
        if scarce:
            body["estimated_cost"] = str(SCARCE_COST)
        elif i % 4 == 1:
            body |= {"provider": "openai", "model": "gpt-4o-mini-2024-07-18",
                     "input_tokens": 1200, "max_output_tokens": 400}  # fmt: skip
        else:
            body["estimated_cost"] = "0.0123"
        out.append(json.dumps(body).encode())
    return out


async def send_all(secret: str, payloads: list[bytes], concurrency: int) -> list[tuple]:
    """(status, seconds, answer) for each payload, sent by `concurrency` senders."""
    pending = list(enumerate(payloads))
    pending.reverse()
    results: list[tuple] = [(0, 0.0, None)] * len(payloads)
    head = ("POST /api/v1/authorize HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {secret}\r\nContent-Type: application/json\r\n"
            "Connection: close\r\nContent-Length: {}\r\n\r\n")  # fmt: skip

    async def sender() -> None:
        while pending:
            index, body = pending.pop()
            started = time.perf_counter()
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
                writer.write(head.format(len(body)).encode() + body)
                raw = await reader.read()
                writer.close()
            except OSError:
                results[index] = (0, time.perf_counter() - started, None)
                continue
            elapsed = time.perf_counter() - started
            header, _, payload = raw.partition(b"\r\n\r\n")
            status = int(header.split(b" ", 2)[1]) if header else 0
            answer = json.loads(payload) if status == 200 else payload[:200]
            results[index] = (status, elapsed, answer)

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return results


def report(label: str, results: list[tuple], wall: float, client_cpu: float) -> None:
    statuses: dict[int, int] = {}
    for status, _, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    answered = {r[0] for r in results if r[0] in (200, 401)}
    latencies = sorted(r[1] for r in results if r[0] in answered)
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    decisions = [r[2]["decision"] for r in results if r[0] == 200]
    print(f"{label}: {len(results)} requests in {wall:.1f} s: {len(latencies) / wall:.0f} "
          f"answers/s; status codes {statuses}; allow {decisions.count('allow')}, deny "
          f"{decisions.count('deny')}; the client used {client_cpu:.1f} s CPU")  # fmt: skip
    if latencies:
        print(f"{label}: latency p50 {p(0.50):.1f} ms, p95 {p(0.95):.1f} ms, p99 {p(0.99):.1f} "
              f"ms, max {latencies[-1] * 1000:.1f} ms")  # fmt: skip


def run(secret: str, payloads: list[bytes], concurrency: int, label: str = "") -> list[tuple]:
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    results = asyncio.run(send_all(secret, payloads, concurrency))
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    used = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    report(label or f"c={concurrency}", results, wall, used)
    return results


def check(org, scarce, results: list[tuple]) -> bool:
    errors = [r for r in results if r[0] != 200]
    scarce_allows = sum(
        1 for r in results
        if r[0] == 200 and r[2]["decision"] == "allow" and r[2]["reserved"] == str(SCARCE_COST)
    )  # fmt: skip
    with scope(organization=org):
        over = []
        for w in Wallet.objects.filter(organization=org):
            held = Reservation.objects.filter(wallet=w, state="pending").aggregate(
                s=Sum("amount"))["s"] or Decimal(0)  # fmt: skip
            if w.hard_limit and (w.reserved > w.balance or held != w.reserved):
                over.append((w.name, w.balance, w.reserved, held))
        scarce = Wallet.objects.get(pk=scarce.pk)
    ok = not errors and not over and scarce_allows == SCARCE_COVERS
    print(f"check c=50: errors {len(errors)}; wallet {SCARCE} funded for {SCARCE_COVERS}: "
          f"{scarce_allows} allowed, reserved {scarce.reserved} of {scarce.balance}; "
          f"overdrawn hard wallets: {over or 'none'}; {'OK' if ok else 'FAILED'}")  # fmt: skip
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=4000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/authorize.py runs on PostgreSQL: set DATABASE_URL=postgres://...")
    with scopes_disabled():
        org, secret, scarce = setup_org(args.entries)
    connection.close()
    env = {**os.environ, "SECRET_KEY": "bench-" + "x" * 60, "DEBUG": "0",
           "SECURE_SSL_REDIRECT": "0", "ALLOWED_HOSTS": "127.0.0.1",
           "CONN_MAX_AGE": os.environ.get("CONN_MAX_AGE", "60"),
           "GUNICORN_LOG_LEVEL": "warning"}  # fmt: skip
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{PORT}", "--access-logfile", "/dev/null", "chargeback.wsgi"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    ok = False
    try:
        for _ in range(150):
            time.sleep(0.2)
            warm = asyncio.run(send_all(secret, bodies("probe", 1), 1))
            if warm[0][0] == 200:
                break
        asyncio.run(send_all(secret, bodies("warm", 200), 8))  # every thread connects, loads
        # The stack's floor on this machine: the same server, client and request, answered 401
        # at the key's format check (no SQL, no decision).
        run("not-a-key", bodies("floor", args.requests), 8, label="floor (401, no SQL) c=8")
        run(secret, bodies("c8", args.requests), 8)
        results = run(secret, bodies("c50", args.requests, scarce_share=0.5), 50)
        with scopes_disabled():
            ok = check(org, scarce, results)
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
