"""Quarantine operations: fix a record, replay one, a selection or all with a reason, discard
with a reason. Replays go through the normal pipeline as a new batch; a record that fails
again comes back to quarantine in that batch. Nothing is ever dropped silently."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from chargeback.audit.log import record
from chargeback.tenancy.models import Organization
from chargeback.tenancy.permissions import role_has_perm
from chargeback.usage.ingest import create_batch
from chargeback.usage.models import IngestBatch, QuarantinedEvent, QuarantineStatus
from chargeback.wording import json_problem, plural


def fix_record(*, item: QuarantinedEvent, raw: str, actor: Any) -> QuarantinedEvent:
    """Replace the stored record with a corrected JSON object (kept in the audit log)."""
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            {
                "raw": f"not valid JSON (line {exc.lineno}, column {exc.colno}): {json_problem(exc.msg)}"
            }
        ) from exc
    if not isinstance(obj, dict):
        raise ValidationError({"raw": "must be one JSON object"})
    if item.status != QuarantineStatus.OPEN:
        raise ValidationError(
            {"raw": f"this record is already {item.get_status_display().lower()}"}
        )
    with transaction.atomic():
        before = item.raw
        item.raw = json.dumps(obj, sort_keys=True)
        item.request_id = str(obj.get("request_id") or "")[:200]
        item.save(update_fields=["raw", "request_id"])
        record(
            organization=item.organization,
            actor=actor,
            action="quarantine.fixed",
            obj=item,
            before={"raw": before},
            after={"raw": item.raw},
        )
    return item


def replay(
    *, organization: Organization, items: Sequence[QuarantinedEvent], actor: Any
) -> IngestBatch | None:
    """Send open records through the pipeline again as one new batch."""
    with transaction.atomic():
        ids = [i.pk for i in items]
        open_items = list(
            QuarantinedEvent.objects.select_for_update()
            .filter(organization=organization, pk__in=ids, status=QuarantineStatus.OPEN)
            .order_by("pk")
        )
        if not open_items:
            return None
        payload = b"".join(_as_line(i.raw) for i in open_items)
        batch = create_batch(
            organization=organization, payload=payload, fmt="ndjson", source="replay",
            filename=f"replay of {len(open_items)} quarantined record(s)",
            created_by=getattr(actor, "email", "") or str(actor),
        )  # fmt: skip
        QuarantinedEvent.objects.filter(pk__in=[i.pk for i in open_items]).update(
            status=QuarantineStatus.REPLAYED, replayed_in=batch, resolved_at=timezone.now(),
            resolved_by=actor if getattr(actor, "is_authenticated", False) else None,
        )  # fmt: skip
        record(
            organization=organization, actor=actor, action="quarantine.replayed", obj=batch,
            after={"records": [i.pk for i in open_items], "batch": batch.pk},
        )  # fmt: skip
    return batch


def _as_line(raw: str) -> bytes:
    """A quarantined record as one NDJSON line (records that were not JSON stay as they were,
    so they fail again, visibly, rather than disappear)."""
    return raw.replace("\n", " ").encode("utf-8", "replace") + b"\n"


def discard(
    *, organization: Organization, items: Sequence[QuarantinedEvent], reason: str, actor: Any
) -> int:
    reason = reason.strip()
    if len(reason) < 5:
        raise ValidationError(
            {"reason": "Say why these records are discarded (at least 5 characters)."}
        )
    with transaction.atomic():
        ids = [i.pk for i in items]
        qs = QuarantinedEvent.objects.filter(
            organization=organization, pk__in=ids, status=QuarantineStatus.OPEN
        )
        chosen = list(qs.values_list("pk", "request_id"))
        qs.update(
            status=QuarantineStatus.DISCARDED, resolution_note=reason[:500], resolved_at=timezone.now(),
            resolved_by=actor if getattr(actor, "is_authenticated", False) else None,
        )  # fmt: skip
        if chosen:
            record(
                organization=organization, actor=actor, action="quarantine.discarded",
                object_type="usage.quarantinedevent", object_repr=f"{len(chosen)} record(s)",
                after={"records": [pk for pk, _ in chosen], "request_ids": [r for _, r in chosen], "reason": reason},
            )  # fmt: skip
    return len(chosen)


def replay_hint(request: Any, reason: str, cause: str) -> str | None:
    """After a fix of the cause (a price, an alias), the message that offers to replay the open
    records quarantined for `reason`, with a link to the confirmation; None when there are none
    or the user may not replay."""
    if not role_has_perm(request.membership.role, "quarantine.resolve"):
        return None
    n = QuarantinedEvent.objects.filter(
        organization=request.org, status=QuarantineStatus.OPEN, reason=reason
    ).count()
    if not n:
        return None
    link = reverse("usage:quarantine-replay-all", args=[request.org.slug]) + f"?reason={reason}"
    return format_html(
        '{} in quarantine {} {}. <a href="{}">Replay them</a> to ingest the ones it fixed.',
        plural(n, "record"),
        "is" if n == 1 else "are",
        cause,
        link,
    )
