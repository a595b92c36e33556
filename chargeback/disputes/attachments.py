"""Evidence added to a dispute after it was opened (the API's evidence upload): a file and/or
more request ids, by anyone who may comment on it (the unit's team lead, finance, admins),
while it is not resolved. One atomic step that locks the dispute and writes a DisputeEvent
("added evidence") and an AuditEvent; refusals raise `DisputeError` naming the field.

A file is at most MAX_BYTES, and one of ALLOWED's types: its extension names the type and its
first bytes must agree (a PDF starts with %PDF, a PNG with its signature, text is UTF-8)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from chargeback.audit.log import record
from chargeback.disputes.models import Dispute, DisputeEvent
from chargeback.disputes.operations import DisputeError, DisputeNotFound, can_reach
from chargeback.disputes.workflow import ACTIVE
from chargeback.tenancy.models import Membership

MAX_BYTES = 5 * 1024 * 1024
MAX_REQUEST_IDS = 200
MAX_REQUEST_ID = 200
TEXT = b""
# extension -> the bytes the file starts with (TEXT: readable as UTF-8)
ALLOWED = {
    ".pdf": b"%PDF-",
    ".png": b"\x89PNG\r\n\x1a\n",
    ".jpg": b"\xff\xd8\xff",
    ".jpeg": b"\xff\xd8\xff",
    ".csv": TEXT,
    ".txt": TEXT,
    ".json": TEXT,
    ".log": TEXT,
}
KINDS = ", ".join(sorted(ALLOWED))


def file_problem(upload: UploadedFile) -> str:
    """Why `upload` is not acceptable evidence ("" when it is)."""
    name = upload.name or ""
    ext = PurePath(name).suffix.lower()
    if ext not in ALLOWED:
        return f'"{name[:100]}" is not one of the accepted types ({KINDS})'
    if upload.size is None or upload.size > MAX_BYTES:
        return f"{upload.size} bytes is more than the {MAX_BYTES // (1024 * 1024)} MB allowed"
    if not upload.size:
        return "the file is empty"
    upload.seek(0)
    head = upload.read(65536)
    upload.seek(0)
    magic = ALLOWED[ext]
    if magic and not head.startswith(magic):
        return f"the file's content is not a {ext[1:].upper()} file"
    if not magic:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the 64 KB mark
                return f"a {ext[1:]} file must be UTF-8 text"
    return ""


def clean_request_ids(values: Iterable[object]) -> list[str]:
    ids = [str(v).strip() for v in values]
    for rid in ids:
        if not rid:
            raise DisputeError("request_ids: a request id is empty")
        if len(rid) > MAX_REQUEST_ID:
            raise DisputeError(f"request_ids: a request id is longer than {MAX_REQUEST_ID}")
    return list(dict.fromkeys(ids))


def add_evidence(
    *,
    membership: Membership,
    dispute: Dispute,
    upload: UploadedFile | None = None,
    request_ids: Iterable[object] = (),
) -> Dispute:
    """Attach `upload` (replacing an earlier file) and add `request_ids` to the dispute."""
    if dispute.organization_id != membership.organization_id or not can_reach(
        membership, dispute.unit
    ):
        raise DisputeNotFound(f"dispute {dispute.pk} not found")
    ids = clean_request_ids(request_ids)
    if upload is None and not ids:
        raise DisputeError("file: give a file, request_ids, or both")
    if upload is not None:
        problem = file_problem(upload)
        if problem:
            raise DisputeError(f"file: {problem}")
    with transaction.atomic():
        locked = (
            Dispute.objects.select_for_update().select_related("organization").get(pk=dispute.pk)
        )
        if locked.state not in ACTIVE:
            raise DisputeError(
                f"dispute {locked.pk} is {locked.get_state_display().lower()}: "
                "evidence can no longer be added"
            )
        added = [rid for rid in ids if rid not in locked.request_ids]
        if len(locked.request_ids) + len(added) > MAX_REQUEST_IDS:
            raise DisputeError(f"request_ids: a dispute names at most {MAX_REQUEST_IDS}")
        locked.request_ids = [*locked.request_ids, *added]
        fields = ["request_ids"]
        if upload is not None:
            locked.evidence_file.save(PurePath(upload.name).name, upload, save=False)
            fields.append("evidence_file")
        locked.save(update_fields=fields)
        parts = []
        if upload is not None:
            parts.append(f"file {PurePath(upload.name).name}")
        if added:
            parts.append("request ids " + ", ".join(added))
        user = membership.user
        DisputeEvent.objects.create(
            organization=locked.organization,
            dispute=locked,
            action="evidence",
            actor=user,
            actor_label=f"{user.email} ({membership.get_role_display().lower()})",
            text="; ".join(parts) or "nothing new",
        )
        record(
            organization=locked.organization,
            actor=user,
            action="dispute.evidence",
            obj=locked,
            after={"file": locked.evidence_file.name if upload else None, "request_ids": added},
        )
    return locked
