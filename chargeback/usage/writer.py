"""The writer: a prepared chunk committed in one transaction, with its events (COPY on
PostgreSQL), quarantined records, rollup increments and the batch's counts and
`records_done`, so a worker that dies mid-batch loses nothing. Duplicates are decided in the
database: the unique (organization, request_id), and a per-organisation lock while a chunk is
written."""

from __future__ import annotations

import orjson
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from chargeback.tenancy.models import Organization
from chargeback.usage.context import Context, Prepared, Priced, Quarantined
from chargeback.usage.models import IngestBatch, QuarantinedEvent, UsageEvent
from chargeback.usage.pipeline import conflict, rollup_totals
from chargeback.usage.records import printable
from chargeback.usage.rollup import add_to_rollup
from chargeback.usage.rows import EVENT_COLUMNS, event_row

COPY_BLOCK = 1 << 18  # characters per COPY write
LOCK_CLASS = 7101  # the first key of the per-organisation advisory lock


class ChunkTaken(Exception):
    """Another process committed this part of the batch first."""


def is_duplicate_request(exc: Exception) -> bool:
    """A unique violation of (organization, request_id), raised by the driver (COPY) or
    wrapped by Django."""
    for error in (exc, exc.__cause__):
        diag = getattr(error, "diag", None)
        if getattr(diag, "constraint_name", None) == "usage_event_unique_request":
            return True
    return False


def commit_chunk(
    batch: IngestBatch, context: Context, prepared: Prepared, offset: int, *, trust: bool = False
) -> None:
    """Write a chunk in one transaction. `trust`: the ids the look-up before the transaction
    did not find are written without looking again; the unique (organization, request_id)
    refuses any that was stored since (another process, or the chunk before, not yet
    committed then), the transaction rolls back, and the caller writes the chunk again with
    `trust=False`: decided under the lock."""
    org = context.organization
    quarantined = list(prepared.quarantined)
    with transaction.atomic():
        done = (
            IngestBatch.objects.select_for_update()
            .filter(pk=batch.pk)
            .values_list("records_done", flat=True)
            .get()
        )
        if done != offset:
            raise ChunkTaken()
        lock_organization(org)
        duplicates = prepared.repeats
        quarantined.extend(conflict(p) for p in prepared.conflicts)
        if prepared.fresh is None:  # from a preparer (always prechecked): trusted, as formatted
            assert trust
            accepted_count = prepared.fresh_count
            if accepted_count:
                copy_events(prepared.text or "")
            add_to_rollup(org, prepared.totals)
        else:
            accepted_count, duplicates = write_fresh(
                org, batch, prepared, quarantined, duplicates, trust=trust
            )
        if quarantined:
            QuarantinedEvent.objects.bulk_create(
                [
                    QuarantinedEvent(
                        organization=org,
                        batch=batch,
                        line=q.position,
                        request_id=printable(q.request_id)[:200],
                        raw=printable(q.raw),
                        reasons=[r.as_dict() for r in q.reasons],
                        reason=q.reasons[0].code,
                    )  # fmt: skip
                    for q in quarantined
                ],
                ignore_conflicts=True,
            )
        IngestBatch.objects.filter(pk=batch.pk).update(
            received=F("received") + prepared.size,
            accepted=F("accepted") + accepted_count,
            duplicates=F("duplicates") + duplicates,
            quarantined=F("quarantined") + len(quarantined),
            records_done=F("records_done") + prepared.size,
            heartbeat_at=timezone.now(),
        )


def write_fresh(
    org: Organization, batch: IngestBatch, prepared: Prepared, quarantined: list[Quarantined],
    duplicates: int, *, trust: bool,
) -> tuple[int, int]:  # fmt: skip
    """Write the chunk's fresh events (those not found stored before the transaction), the ids
    decided here, under the lock, unless `trust`. Returns (accepted, duplicates); conflicting
    ones are added to `quarantined`."""
    fresh = prepared.fresh or []
    found = {} if trust else existing_fingerprints(org, [p.draft.request_id for p in fresh])
    accepted: list[Priced] = []
    seen: dict[str, str] = {}
    for p in fresh:
        rid, fp = p.draft.request_id, p.draft.fingerprint
        known = found.get(rid) or seen.get(rid)
        if known is None:
            seen[rid] = fp
            accepted.append(p)
        elif known == fp:
            duplicates += 1
        else:
            quarantined.append(conflict(p))
    if len(accepted) == len(fresh):  # all of them (accepted is a part of fresh)
        text, totals = prepared.text, prepared.totals
    else:
        text, totals = None, rollup_totals(accepted)
    write_events(org, batch, accepted, text)
    add_to_rollup(org, totals)
    return len(accepted), duplicates


def lock_organization(org: Organization) -> None:
    """Serialise chunk writes per organisation (PostgreSQL; SQLite serialises writers anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_CLASS, org.pk])


def existing_fingerprints(org: Organization, request_ids: list[str]) -> dict[str, str]:
    unique = list(dict.fromkeys(request_ids))
    if not unique:
        return {}
    if connection.vendor == "postgresql":
        # One array parameter, not thousands of placeholders (and no debug-log formatting).
        # Joined on (organization, request_id) so the plan is always one unique-index probe
        # per id: `organization_id = %s AND request_id = ANY(...)` lets stale statistics for a
        # growing organisation pick a scan of all its events (0.5 s per chunk at 1M events).
        # The ids go as one JSON text: psycopg would quote a list's items one by one in Python.
        try:
            ids, unpack = orjson.dumps(unique).decode(), "json_array_elements_text(%s::json)"
        except TypeError:  # not UTF-8 (a lone surrogate): the driver says so below
            ids, unpack = unique, "unnest(%s::text[])"
        with connection.cursor() as cursor:
            cursor.cursor.execute(
                f"SELECT e.request_id, e.fingerprint FROM {UsageEvent._meta.db_table} e "  # noqa: S608
                f"JOIN (SELECT %s::bigint AS org, {unpack} AS id) r "
                "ON (e.organization_id, e.request_id) = (r.org, r.id)",
                [org.pk, ids],
            )
            return dict(cursor.cursor.fetchall())
    found: dict[str, str] = {}
    for start in range(0, len(unique), 5000):
        part = unique[start : start + 5000]
        found.update(
            UsageEvent.objects.filter(organization=org, request_id__in=part).values_list(
                "request_id", "fingerprint"
            )
        )
    return found


def write_events(
    org: Organization, batch: IngestBatch, accepted: list[Priced], text: str | None = None
) -> None:
    if not accepted:
        return
    if connection.vendor == "postgresql":
        copy_events(text if text is not None else "".join(p.line for p in accepted))
        return
    now = timezone.now()
    # Django's bulk_create is limited to ~30 rows per INSERT on SQLite: executemany is far faster.
    ops = connection.ops
    i_at, i_cost, i_ingested = (
        EVENT_COLUMNS.index("occurred_at"),
        EVENT_COLUMNS.index("cost"),
        EVENT_COLUMNS.index("ingested_at"),
    )
    adapted = []
    for p in accepted:
        row = list(event_row(org, batch, p, now))
        row[i_at] = ops.adapt_datetimefield_value(row[i_at])
        row[i_ingested] = ops.adapt_datetimefield_value(row[i_ingested])
        row[i_cost] = ops.adapt_decimalfield_value(row[i_cost], 24, 12)
        adapted.append(row)
    table = UsageEvent._meta.db_table
    sql = f"INSERT INTO {table} ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join(['%s'] * len(EVENT_COLUMNS))})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, adapted)


def copy_events(text: str) -> None:
    """COPY rows in COPY's text format into the events table (PostgreSQL)."""
    table = UsageEvent._meta.db_table
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy,
    ):
        for start in range(0, len(text), COPY_BLOCK):
            copy.write(text[start : start + COPY_BLOCK])
