"""Preparing a large NDJSON batch in forked processes (PostgreSQL).

In one process, reading, validating, pricing and formatting share one GIL: about 15 µs of
Python an event, while PostgreSQL's COPY runs on the other core. For a large NDJSON payload,
`process_batch` forks PREPARERS processes instead. Preparer k takes chunks k, k + n, k + 2n, ...
of the records after the batch's `records_done`: it reads the payload's lines (counting every
non-blank line as a record, as `read_records` does), parses its own chunks, validates, looks up
the stored ids on its own connection, prices, attributes and formats the COPY text, and sends
back only what the commit needs (`Prepared` with `fresh=None`: the text, the rollup totals, the
quarantined records, the counts, and the chunk's raw lines). The parent commits the chunks in
order, under the same `records_done` guard as ever, so what is stored, and how a resumed or
concurrent run behaves, does not change. A chunk whose transaction meets a request id stored
since its look-up is prepared again in the parent, from its raw lines, and decided under the
lock (`full`).

A preparer never touches the connection it inherits (closing it would end the parent's session:
it is kept referenced and the process leaves with `os._exit`), dies with the parent
(PR_SET_PDEATHSIG, and a broken pipe), and is killed and reaped when the parent leaves the
`with` block. If a preparer fails, `PreparerFailed` is raised; the caller goes on in-process
from the committed offset.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import os
import signal
import traceback
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

from django.db import connections

from chargeback.usage import pipeline
from chargeback.usage.context import Context, Prepared
from chargeback.usage.records import read_records

log = logging.getLogger(__name__)

_inherited: list[Any] = []  # the parent's connections, never closed nor freed in a preparer


class PreparerFailed(Exception):
    """A preparer process stopped or reported an error."""


def chunks_of_lines(path: str, offset: int, size: int) -> Iterator[tuple[int, int, bytes]]:
    """(index, line number of the chunk's first line, the chunk's lines) for each chunk of
    `size` records after the first `offset` records. A record is a non-blank line (the first
    line's UTF-8 byte-order mark aside), as `read_records` reads NDJSON."""
    index, in_chunk, first, lines = 0, 0, 0, []
    seen = 0
    with open(path, "rb") as stream:
        for number, line in enumerate(stream, start=1):
            blank = not (
                line[3:] if number == 1 and line.startswith(b"\xef\xbb\xbf") else line
            ).strip()
            if seen < offset:
                seen += 0 if blank else 1
                continue
            if not lines and blank:
                continue  # a chunk starts at a record
            if not lines:
                first = number
            lines.append(line)
            if not blank:
                in_chunk += 1
                if in_chunk == size:
                    yield index, first, b"".join(lines)
                    index, in_chunk, lines = index + 1, 0, []
    if in_chunk:
        yield index, first, b"".join(lines)


class ForkedStages:
    """The preparing stages as forked processes, in chunks of `size` records; iterate for the
    chunks in order."""

    def __init__(self, context: Context, path: str, processes: int, size: int) -> None:
        self.context, self.path, self.processes, self.size = context, path, processes, size
        self.readers: list[Connection] = []
        self.pids: list[int] = []

    def __enter__(self) -> ForkedStages:
        return self

    def __exit__(self, *exc: object) -> None:
        """Kill and reap every preparer, whatever state each is in (never masking the error
        that brought us here)."""
        for pid in self.pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for reader in self.readers:
            with contextlib.suppress(OSError):
                reader.close()
        for pid in self.pids:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)
        self.readers, self.pids = [], []

    def start(self, offset: int) -> None:
        size = self.size
        log.info("preparing from record %s in %s preparer processes", offset, self.processes)
        for k in range(self.processes):
            try:
                read_fd, write_fd = os.pipe()
                pid = os.fork()
            except OSError as exc:  # no process or descriptor to spare: in-process instead
                raise PreparerFailed(f"cannot start preparer {k}: {exc}") from exc
            if pid == 0:  # the preparer
                code = 1
                try:
                    os.close(read_fd)
                    for reader in self.readers:  # the other preparers' pipes
                        os.close(reader.fileno())
                    _become_preparer()
                    _prepare(self.context, self.path, offset, size, k, self.processes, write_fd)
                    code = 0
                except BaseException:  # noqa: BLE001 - nothing may leave this process
                    traceback.print_exc()
                finally:
                    os._exit(code)
            self.pids.append(pid)
            os.close(write_fd)
            self.readers.append(Connection(read_fd, writable=False))

    STALL = 300.0  # seconds without a chunk from a live preparer before it is given up

    def __iter__(self) -> Iterator[Prepared]:
        k = 0
        while True:
            self._wait(k)
            try:
                kind, item = self.readers[k].recv()
            except (EOFError, OSError) as exc:
                raise PreparerFailed(f"preparer {k} stopped") from exc
            if kind == "end":
                return
            if kind == "error":
                raise PreparerFailed(f"preparer {k}: {item}")
            yield item
            k = (k + 1) % self.processes

    def _wait(self, k: int) -> None:
        """Until preparer k has something to say; PreparerFailed if it died or is stuck."""
        waited = 0.0
        while not self.readers[k].poll(1.0):
            waited += 1.0
            done, _status = os.waitpid(self.pids[k], os.WNOHANG)
            if done:
                self.pids[k] = -1  # reaped
                if not self.readers[k].poll(0):
                    raise PreparerFailed(f"preparer {k} exited")
                return
            if waited >= self.STALL:
                raise PreparerFailed(f"preparer {k} sent nothing for {self.STALL:.0f} s")

    def full(self, prepared: Prepared) -> Prepared:
        """The chunk prepared again here, in full, from its raw lines (decided under the lock
        by the caller)."""
        records = _records(prepared.raw, prepared.first_line)
        validated = pipeline.validate_chunk(self.context, records)
        return pipeline.price_chunk(self.context, validated, precheck=False)


def _records(raw: bytes, first_line: int) -> list[tuple[int, Any]]:
    return list(read_records(io.BytesIO(raw), "ndjson", first_line=first_line))


def _become_preparer() -> None:
    """Default signals, death with the parent, and none of the parent's connections: their
    objects are kept (freeing one would not end the parent's session, but nothing here should
    touch it) and their sockets closed here, so the server sees the parent's session end as
    soon as the parent does."""
    for name in ("SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGABRT"):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    parent = os.getppid()
    # PR_SET_PDEATHSIG; elsewhere than Linux, a broken pipe ends the preparer instead.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)
    for alias in connections:
        wrapper = connections[alias]
        if wrapper.connection is not None:
            _inherited.append(wrapper.connection)
            with contextlib.suppress(Exception):
                os.close(wrapper.connection.pgconn.socket)
            wrapper.connection = None
        wrapper._ingest_planned = False


def _prepare(context: Context, path: str, offset: int, size: int, k: int, n: int, fd: int) -> None:
    writer = Connection(fd, readable=False)
    try:
        for index, first_line, raw in chunks_of_lines(path, offset, size):
            if index % n != k:
                continue
            records = _records(raw, first_line)
            validated = pipeline.validate_chunk(context, records)
            prepared = pipeline.price_chunk(context, validated, precheck=True, always=True)
            writer.send(("item", pipeline.slim(prepared, raw, first_line)))
        writer.send(("end", None))
    except BrokenPipeError:
        return  # the parent is gone
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which goes on without us
        with contextlib.suppress(OSError):
            writer.send(("error", f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        connections.close_all()  # this process's own connection, opened for the look-ups
