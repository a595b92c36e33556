"""Run a function from many threads at once against PostgreSQL, as parallel gateway requests
do: the first `threads` calls are released together by a barrier, each call gives its
connection back, and an optional watcher polls an invariant the whole time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import close_old_connections, connection


def in_parallel(
    call: Callable[[int], Any],
    count: int,
    threads: int,
    watch: Callable[[], Any] | None = None,
) -> tuple[list, list]:
    """(call(i) for i in range(count), in order; what `watch()` returned truthy while they ran)."""
    start = threading.Barrier(min(threads, count))
    seen: list = []
    done = threading.Event()

    def one(i: int) -> Any:
        if i < threads:
            start.wait()
        try:
            return call(i)
        finally:
            connection.close()  # each thread has its own connection; give it back

    def watcher() -> None:
        while not done.is_set():
            if found := watch():
                seen.append(found)
        connection.close()

    poll = threading.Thread(target=watcher) if watch is not None else None
    if poll is not None:
        poll.start()
    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            results = list(pool.map(one, range(count)))
    finally:
        done.set()
        if poll is not None:
            poll.join()
        close_old_connections()
    return results, seen
