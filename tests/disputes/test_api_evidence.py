"""Evidence added through the API (multipart): a file and more request ids, by the unit's
team lead or finance, with size and type limits refused as a 400 naming the field."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from chargeback.disputes import attachments
from chargeback.disputes import operations as ops
from chargeback.disputes.models import DisputeEvent
from chargeback.tenancy.scoping import within

from .test_commands import issued  # noqa: F401 (issued today, so the window is open)


def _open(people, statements):
    return ops.open_dispute(
        membership=people["sup_lead"], statement=statements["SUP"], amount="1.00",
        reason="pricing", description="x", request_ids=["req-1"],
    )  # fmt: skip


def _url(dispute):
    return reverse("api:dispute-evidence", kwargs={"org_slug": "alpha", "dispute_id": dispute.pk})


def test_the_team_lead_adds_a_file_and_request_ids(client, issued, statements, people):  # noqa: F811
    with within(issued):
        d = _open(people, statements)
    client.force_login(people["sup_lead"].user)
    csv = SimpleUploadedFile("calls.csv", b"request_id,cost\nreq-2,0.5\n", "text/csv")
    r = client.post(_url(d), {"file": csv, "request_ids": ["req-2", "req-1", "req-3"]})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["request_ids"] == ["req-1", "req-2", "req-3"]
    assert body["evidence_file"].startswith("calls") and body["evidence_file"].endswith(".csv")
    assert body["events"][-1]["action"] == "evidence"
    assert body["events"][-1]["text"] == "file calls.csv; request ids req-2, req-3"
    with within(issued):
        d.refresh_from_db()
        assert d.evidence_file.read() == b"request_id,cost\nreq-2,0.5\n"
    client.force_login(people["finance"].user)  # finance too
    assert client.post(_url(d), {"request_ids": ["req-4"]}).status_code == 200


def test_bad_evidence_is_a_400_naming_the_field(client, issued, statements, people):  # noqa: F811
    with within(issued):
        d = _open(people, statements)
    client.force_login(people["sup_lead"].user)
    big = SimpleUploadedFile("big.txt", b"a" * (attachments.MAX_BYTES + 1), "text/plain")
    cases = [
        ({"file": big}, "file: 5242881 bytes is more than the 5 MB allowed"),
        ({"file": SimpleUploadedFile("x.exe", b"MZ", "application/octet-stream")},
         'file: "x.exe" is not one of the accepted types (.csv, .jpeg, .jpg, .json, .log, '
         ".pdf, .png, .txt)"),
        ({"file": SimpleUploadedFile("x.pdf", b"hello", "application/pdf")},
         "file: the file's content is not a PDF file"),
        ({"file": SimpleUploadedFile("x.txt", b"\xff\xfe\x00bad", "text/plain")},
         "file: a txt file must be UTF-8 text"),
        ({}, "file: give a file, request_ids, or both"),
    ]  # fmt: skip
    for data, detail in cases:
        r = client.post(_url(d), data)
        assert r.status_code == 400, (data, r.content)
        assert r.json()["detail"] == detail
    empty = client.post(_url(d), {"request_ids": [""]})
    assert empty.status_code == 400 and "request_ids" in empty.json()
    with within(issued):
        assert not DisputeEvent.objects.filter(action="evidence").exists()
        d.refresh_from_db()
        assert d.request_ids == ["req-1"] and not d.evidence_file


def test_evidence_follows_the_role_rules(client, issued, statements, people):  # noqa: F811
    with within(issued):
        d = _open(people, statements)
    for who in ("sales_lead", "viewer"):
        client.force_login(people[who].user)
        assert client.post(_url(d), {"request_ids": ["r"]}).status_code == 404
    with within(issued):
        ops.withdraw(membership=people["sup_lead"], dispute=d)
    client.force_login(people["sup_lead"].user)
    late = client.post(_url(d), {"request_ids": ["r"]})
    assert late.status_code == 400
    assert late.json()["detail"] == f"dispute {d.pk} is withdrawn: evidence can no longer be added"
