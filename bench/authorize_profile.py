#!/usr/bin/env python
"""In-process profile of `POST /api/v1/authorize` (PostgreSQL): the time per decision and the
SQL statements per decision, with no web server and no network in the way.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chargeback_bench \
    .venv/bin/python bench/authorize_profile.py [--requests 300] [--cprofile]

Sets up an organisation as bench/authorize.py does (no extra ledger entries), then posts
`--requests` authorizations (the same mix: every fourth priced from tokens) through Django's
test client, twice: once timed, once counting statements with CaptureQueriesContext plus the
plain statements chargeback.sql.fetch_one sends (Django's query log does not see those).
`--cprofile` prints the top functions by cumulative time of the timed run.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The connection is kept between requests, as deployed (and as prepared statements need).
os.environ.setdefault("CONN_MAX_AGE", "60")

from authorize import bodies, setup_org  # noqa: E402 (also sets Django up)
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402

from chargeback import sql  # noqa: E402


def post_all(client: Client, secret: str, payloads: list[bytes]) -> list[float]:
    times = []
    for body in payloads:
        t = time.perf_counter()
        response = client.post("/api/v1/authorize", body, content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {secret}")  # fmt: skip
        times.append(time.perf_counter() - t)
        if response.status_code != 200:
            sys.exit(f"{response.status_code}: {response.content[:300]!r}")
    return times


def count_plain_statements() -> tuple[Counter, Counter]:
    """Count chargeback.sql.fetch_one calls (answers waited for) and chargeback.sql.send calls
    (writes not waited for: pipelined on PostgreSQL), wherever they were imported."""
    waited: Counter = Counter()
    sent: Counter = Counter()
    for name, seen in (("fetch_one", waited), ("send", sent)):
        original = getattr(sql, name)

        def counting(statement, params, original=original, seen=seen):
            seen[" ".join(statement.split())[:70]] += 1
            return original(statement, params)

        for module in list(sys.modules.values()):
            if getattr(module, name, None) is original:
                setattr(module, name, counting)
    return waited, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--show-sql", action="store_true", help="print one decision's SQL")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/authorize_profile.py runs on PostgreSQL: set DATABASE_URL=postgres://...")
    with scopes_disabled():
        _org, secret, _scarce = setup_org(0)
    client = Client()
    post_all(client, secret, bodies("warm", 50))
    profiler = cProfile.Profile() if args.cprofile else None
    if profiler:
        profiler.enable()
    cpu = time.process_time()
    times = post_all(client, secret, bodies("timed", args.requests))
    cpu = (time.process_time() - cpu) / args.requests * 1000
    if profiler:
        profiler.disable()
    ms = sorted(t * 1000 for t in times)
    print(f"{len(ms)} decisions in-process: mean {statistics.mean(ms):.2f} ms, p50 "
          f"{ms[len(ms) // 2]:.2f} ms, p99 {ms[int(len(ms) * 0.99)]:.2f} ms; CPU "
          f"{cpu:.2f} ms per decision in this process (PostgreSQL's not counted)")  # fmt: skip
    waited, sent = count_plain_statements()
    n = min(args.requests, 100)
    with CaptureQueriesContext(connection) as captured:
        post_all(client, secret, bodies("counted", n))
    orm = len(captured.captured_queries)
    total = orm + sum(waited.values()) + sum(sent.values())
    print(f"SQL per decision: {total / n:.2f} ({orm / n:.2f} through Django's cursor, "
          f"{sum(waited.values()) / n:.2f} plain statements waited for, "
          f"{sum(sent.values()) / n:.2f} writes sent in a pipeline, not waited for)")  # fmt: skip
    if args.show_sql:
        with CaptureQueriesContext(connection) as one:
            post_all(client, secret, [json.dumps(json.loads(bodies("one", 2)[1])).encode()])
        for q in one.captured_queries:
            print("  ", q["sql"][:160])
        for label, seen in (("fetch_one", waited), ("send", sent)):
            for statement, k in seen.items():
                print(f"   [{label} x{k / n:.2f}] {statement}")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)


if __name__ == "__main__":
    main()
