"""The preparing stages in threads of this process (the way for every batch that is not
prepared by forked processes, see `preparers.py`).

Three stages, each in its own thread, hand chunks on through short queues:
  1. read and validate (`pipeline.validate_chunk`);
  2. look up and price (`pipeline.price_chunk`), on the thread's own connection;
  3. write (the caller's thread, `writer.commit_chunk`).
Python holds one lock at a time, so the stages overlap mainly with PostgreSQL's work, which
runs in its own processes: while one chunk is written, the next ones are prepared."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import IO, Any

from django.db import connection, connections

from chargeback.usage import pipeline
from chargeback.usage.context import Context, Prepared
from chargeback.usage.records import read_records

_ITEM, _END, _ERROR = object(), object(), object()


def _chunks(records: Iterable, size: int) -> Iterator[list]:
    iterator = iter(records)
    while chunk := list(islice(iterator, size)):
        yield chunk


class Stages:
    """The two preparing stages in threads, fed from the payload, read from the caller's
    thread by iteration, in chunks of `size` records. Leaving the `with` stops them and waits
    for them."""

    DEPTH = 2  # chunks waiting at most, per queue

    def __init__(self, context: Context, stream: IO[bytes], fmt: str, size: int) -> None:
        self.context, self.stream, self.fmt, self.size = context, stream, fmt, size
        self.validated: queue.Queue = queue.Queue(self.DEPTH)
        self.ready: queue.Queue = queue.Queue(self.DEPTH)
        self.stop = threading.Event()
        self.reader: threading.Thread | None = None
        self.pricer: threading.Thread | None = None
        self.precheck = connection.vendor == "postgresql"

    def __enter__(self) -> Stages:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in (self.reader, self.pricer):
            if thread is not None:
                thread.join()

    def start(self, offset: int) -> None:
        records = islice(read_records(self.stream, self.fmt), offset, None)
        self.reader = threading.Thread(target=self._read, args=(records,), daemon=True)
        self.pricer = threading.Thread(target=self._price, daemon=True)
        self.reader.start()
        self.pricer.start()

    def __iter__(self) -> Iterator[Prepared]:
        while True:
            kind, item = self._get(self.ready, self.pricer)
            if kind is _END:
                return
            if kind is _ERROR:
                raise item
            yield item

    def _put(self, q: queue.Queue, kind: object, item: Any = None) -> bool:
        while not self.stop.is_set():
            try:
                q.put((kind, item), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, q: queue.Queue, producer: threading.Thread | None) -> tuple[object, Any]:
        """The next item; an error if the producer is gone (or we are stopping) with none."""
        while True:
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                gone = self.stop.is_set() or producer is None or not producer.is_alive()
                if gone and q.empty():
                    return _ERROR, RuntimeError("an ingestion stage stopped")

    def full(self, prepared: Prepared) -> Prepared:
        return prepared  # prepared here, in full already

    def _read(self, records: Iterable) -> None:
        try:
            for chunk in _chunks(records, self.size):
                validated = pipeline.validate_chunk(self.context, chunk)
                if not self._put(self.validated, _ITEM, validated):
                    return
            self._put(self.validated, _END)
        except BaseException as exc:  # noqa: BLE001 - handed on to the caller's thread
            self._put(self.validated, _ERROR, exc)

    def _price(self) -> None:
        try:
            while not self.stop.is_set():
                kind, item = self._get(self.validated, self.reader)
                if kind is not _ITEM:
                    self._put(self.ready, kind, item)
                    return
                item = pipeline.price_chunk(self.context, item, precheck=self.precheck)
                if not self._put(self.ready, _ITEM, item):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed on to the caller's thread
            self._put(self.ready, _ERROR, exc)
        finally:
            if self.precheck:
                connections.close_all()  # this thread's own connection
