"""The one-shot audit of a sample of gateway logs: known answers, and nothing written."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django_scopes import scopes_disabled

from chargeback.audit.models import AuditEvent
from chargeback.pricing.books import import_prices, parse_prices
from chargeback.reconciliation.sample import PayloadError, audit_sample
from chargeback.tenancy.models import Role
from chargeback.tenancy.scoping import within
from chargeback.usage.models import (
    DailyUnitUsage,
    DailyUsage,
    IngestBatch,
    MonthlyUsage,
    QuarantinedEvent,
    UsageEvent,
)
from tests.conftest import _member
from tests.reconciliation.conftest import FLAT
from tests.usage.conftest import event, ndjson

D = Decimal
SECRET = "my secret prompt text"


def _flat(rid: str, **kw) -> dict:
    fields = {"occurred_at": "2026-10-05T10:00:00Z", "provider": "internal", "model": "flat", **kw}
    return event(rid, **fields)


SAMPLE = [
    _flat("a-1", input_tokens=1_000_000, output_tokens=0, tags={"team": "SUP"}),  # $1 team tag
    _flat("a-2", input_tokens=1_000_000, output_tokens=250_000, gateway_key_id="gk-sales"),  # $2
    _flat("a-3", input_tokens=1_000_000, output_tokens=0),  # $1, central
    _flat("q-4", model="mystery-1", input_tokens=10, output_tokens=0),  # no price
    {k: v for k, v in _flat("q-5", output_tokens=0).items() if k != "input_tokens"},
    "this is not json",
    _flat("q-7", model="mystery-1", input_tokens=10, output_tokens=0),
    _flat("q-8", messages=[{"role": "user", "content": SECRET}]),  # not a field of events
]


@pytest.fixture
def flat_org(priced_org):
    with within(priced_org):
        import_prices(priced_org, parse_prices(FLAT), actor="test", label="flat")
    return priced_org


def counts(org) -> tuple[int, ...]:
    with scopes_disabled():
        return tuple(
            m.objects.filter(organization=org).count()
            for m in (
                UsageEvent,
                QuarantinedEvent,
                IngestBatch,
                DailyUsage,
                MonthlyUsage,
                DailyUnitUsage,
                AuditEvent,
            )  # fmt: skip
        )


def test_the_audit_of_a_sample_gives_the_known_answers_and_writes_nothing(flat_org):
    before = counts(flat_org)
    with within(flat_org):
        a = audit_sample(flat_org, io.BytesIO(ndjson(SAMPLE)), "ndjson")
    assert counts(flat_org) == before
    assert (a.records, a.unreadable, a.accepted, a.quarantined, a.truncated) == (8, 1, 3, 5, False)
    assert (a.attributed_records, a.central_records) == (2, 1)
    assert (a.attributed_cost, a.central_cost, a.cost) == (D("3"), D("1"), D("4"))
    assert (a.records_share, a.cost_share) == (D("0.6667"), D("0.7500"))
    assert a.by_method["team_tag"] == 1 and a.by_method["gateway_key"] == 1
    assert a.by_method["central"] == 1
    # seven records are objects; the unreadable line has no fields to count
    assert a.missing["input_tokens"] == 1 and a.missing["request_id"] == 0
    assert a.missing["team"] == 6 and a.missing["gateway_key_id"] == 6
    assert a.missing["cost_center"] == 7 and "cost_center" in a.required
    groups = {(g.code, g.field): (g.count, g.lines) for g in a.reasons}
    assert groups[("no_price", "model")] == (2, [4, 7])
    assert sum(g.count for g in a.reasons if g.code == "malformed") == 1
    assert [g.lines for g in a.reasons if g.code == "malformed"] == [[6]]
    assert groups[("missing_field", "input_tokens")] == (1, [5])
    assert groups[("unknown_field", "messages")] == (1, [8])
    assert SECRET not in json.dumps([g.example for g in a.reasons])


def test_a_csv_sample_reads_as_ingest_events_reads_it(flat_org):
    text = (
        "request_id,occurred_at,provider,model,input_tokens,output_tokens,team\n"
        "c-1,2026-10-05T10:00:00Z,internal,flat,1000000,0,SALES\n"
        "c-2,2026-10-05T10:00:00Z,internal,flat,-5,0,\n"
    )
    with within(flat_org):
        a = audit_sample(flat_org, io.BytesIO(text.encode()), "csv")
    assert (a.records, a.accepted, a.quarantined) == (2, 1, 1)
    assert a.missing["team"] == 1 and a.cost_share == D("1.0000")
    assert [g.lines for g in a.reasons] == [[3]]


def test_an_unreadable_file_is_refused_whole(flat_org):
    with within(flat_org), pytest.raises(PayloadError):
        audit_sample(flat_org, io.BytesIO(b"[{not json"), "json")


def test_the_command_prints_the_report_and_writes_nothing(flat_org, tmp_path):
    path = tmp_path / "sample.ndjson"
    path.write_bytes(ndjson(SAMPLE))
    before = counts(flat_org)
    out = io.StringIO()
    call_command("audit_sample", "--org", flat_org.slug, str(path), stdout=out)
    text = out.getvalue()
    assert text.startswith("8 records (ndjson): 3 would be stored, 5 quarantined")
    assert "66.67% of records, 75.00% of cost (3.00 of 4.00 USD)" in text
    assert "  no_price (model): 2, first lines 4, 7: no price for internal/mystery-1" in text
    out = io.StringIO()
    call_command("audit_sample", "--org", flat_org.slug, str(path), "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["attribution"]["cost_share"] == "0.7500"
    assert data["quarantine"][0] == {
        "code": "no_price", "field": "model", "records": 2, "first_lines": [4, 7],
        "example": "no price for internal/mystery-1 on 2026-10-05",
    }  # fmt: skip
    assert counts(flat_org) == before
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"[{nope")
    with pytest.raises(CommandError, match=r"bad\.json: "):
        call_command("audit_sample", "--org", flat_org.slug, str(bad))


def test_the_page_audits_an_upload_for_finance_and_writes_nothing(flat_org, client):
    url = reverse("reconciliation:sample-audit", kwargs={"org_slug": flat_org.slug})
    client.force_login(_member(flat_org, Role.VIEWER, "v@alpha.example").user)
    assert client.get(url).status_code == 403
    client.force_login(_member(flat_org, Role.FINANCE, "fin@alpha.example").user)
    assert client.get(url).status_code == 200
    before = counts(flat_org)
    upload = SimpleUploadedFile("sample.ndjson", ndjson(SAMPLE))
    page = client.post(url, {"file": upload})
    assert page.status_code == 200 and counts(flat_org) == before
    html = page.content.decode()
    assert '<td class="num" data-share="records">66.67%</td>' in html
    assert '<td class="num" data-share="cost">75.00%</td>' in html
    assert "<td>4, 7</td>" in html and SECRET not in html
    bad = client.post(url, {"file": SimpleUploadedFile("s.json", b"[{nope")})
    assert bad.status_code == 400
    assert 'role="alert">File: malformed JSON at line 1, column 3' in bad.content.decode()
    assert client.post(url, {}).status_code == 400
    csv_text = (
        "request_id,occurred_at,provider,model,input_tokens,output_tokens,team\n"
        "c-1,2026-10-05T10:00:00Z,internal,flat,1000000,0,SALES\n"
    )
    page = client.post(url, {"file": SimpleUploadedFile("s.csv", csv_text.encode())})
    assert page.status_code == 200
    assert '<td class="num" data-share="cost">100.00%</td>' in page.content.decode()
    assert counts(flat_org) == before
