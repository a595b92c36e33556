"""Taking a batch in (the API's hot path, under `ingest.create_batch`): its payload stored and
flushed, a `received` batch row, and the scheduler thread that queues batches for processing.

The scheduler sends the `usage.process_batches` task by its name: `tasks.py` defines the
tasks over `ingest.process_batch` and takes their names from here, so tasks sit on top and
nothing here imports them."""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from celery import current_app
from django.core.files.base import ContentFile, File
from django.db import connection
from django.db.models.fields.files import FieldFile

from chargeback.sql import fetch_one
from chargeback.tenancy.models import Organization
from chargeback.usage.models import IngestBatch

log = logging.getLogger(__name__)

# The Celery task names (a contract: queued messages and the beat schedule name them).
PROCESS_BATCH = "usage.process_batch"
PROCESS_BATCHES = "usage.process_batches"
REQUEUE_STUCK_BATCHES = "usage.requeue_stuck_batches"


def store_batch(
    *,
    organization: Organization,
    payload: bytes | IO[bytes],
    fmt: str,
    source: str,
    filename: str = "",
    created_by: str = "",
) -> IngestBatch:
    """Store the raw payload, then a `received` batch pointing at it (one INSERT). The file is
    written first, under a random name: a failure between the two leaves an unreferenced file,
    never a batch without its payload."""
    batch = IngestBatch(
        organization=organization,
        source=source,
        format=fmt,
        filename=filename[:300],
        created_by=created_by[:254],
    )
    field = IngestBatch._meta.get_field("payload")
    name = field.generate_filename(batch, f"{secrets.token_hex(12)}.{fmt}")
    content = ContentFile(payload) if isinstance(payload, bytes) else File(payload)
    new_folder = not field.storage.exists(os.path.dirname(name))
    batch.payload.name = field.storage.save(name, content, max_length=field.max_length)
    _sync(field.storage, batch.payload.name, new_folder=new_folder)
    batch.size_bytes = (
        len(payload) if isinstance(payload, bytes) else field.storage.size(batch.payload.name)
    )
    _insert_batch(batch)
    return batch


def _sync(storage: Any, name: str, *, new_folder: bool = False) -> None:
    """Flush a stored payload to disk before its batch is committed (and 202 answered), so a
    power cut cannot leave a batch whose payload was only in the page cache: the file, the
    folder's entry for it and, when the folder is new (an organisation's first batch), the
    parent's entry for the folder. A storage without local paths (object storage) is durable
    once saved."""
    try:
        path = storage.path(name)
    except NotImplementedError:
        return
    folder = os.path.dirname(path)
    paths = [path, folder, os.path.dirname(folder)] if new_folder else [path, folder]
    for each in paths:
        fd = os.open(each, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _insert_batch(batch: IngestBatch) -> None:
    """batch.save(force_insert=True), in plain SQL on PostgreSQL: the ORM spends more time
    preparing this one-row INSERT than PostgreSQL spends running it (the API's hot path)."""
    if connection.vendor != "postgresql":
        batch.save(force_insert=True)
        return
    fields = [f for f in IngestBatch._meta.concrete_fields if not f.primary_key]
    values = []
    for f in fields:
        value = f.pre_save(batch, True)  # auto_now_add times, the file's name
        values.append(value.name if isinstance(value, FieldFile) else value)
    batch.pk = fetch_one(
        f"INSERT INTO {IngestBatch._meta.db_table} ({', '.join(f.column for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING id",
        values,
    )[0]
    batch._state.adding = False


def send_batches(batch_ids: list[int]) -> None:
    """One `usage.process_batches` message for these batches."""
    current_app.send_task(PROCESS_BATCHES, args=[batch_ids])


GATHER_SECONDS = 0.2


class Scheduler:
    """Gathers the batch ids added within GATHER_SECONDS of the first and hands them to `send`
    together, from a thread of its own (one per process: a forked child starts its own); what
    is left is sent when the process exits."""

    def __init__(self, send: Callable[[list[int]], object]) -> None:
        self.send_ids = send
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.ids: list[int] = []
        self.thread: threading.Thread | None = None
        self.pid = 0
        atexit.register(self.send)

    def add(self, batch_id: int) -> None:
        with self.lock:
            self.ids.append(batch_id)
            if self.pid != os.getpid() or self.thread is None or not self.thread.is_alive():
                self.pid = os.getpid()  # first use, or a forked child: a thread of its own
                self.thread = threading.Thread(target=self._run, name="ingest-scheduler")
                self.thread.daemon = True
                self.thread.start()
        self.wake.set()

    def _run(self) -> None:
        while True:
            self.wake.wait()
            time.sleep(GATHER_SECONDS)  # the batches stored meanwhile go in the same message
            self.wake.clear()
            self.send()

    def send(self) -> None:
        with self.lock:
            ids, self.ids = self.ids, []
        if not ids:
            return
        try:
            self.send_ids(ids)
        except Exception:
            log.exception("could not queue batches %s; the stuck-batch sweeper will", ids)


scheduler = Scheduler(send_batches)
