import datetime as dt
import json
import time
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db.models import Sum

from chargeback.calendar import Period
from chargeback.pricing.books import import_prices, parse_prices
from chargeback.tenancy.scoping import within
from chargeback.usage import ingest as ingest_module
from chargeback.usage import intake, pipeline, tasks, writer
from chargeback.usage.ingest import create_batch, process_batch
from chargeback.usage.models import DailyUsage, IngestBatch, QuarantinedEvent, UsageEvent
from chargeback.usage.spend import spend_report
from tests.usage.conftest import HEADER, event, ingest, ndjson


def counts(batch: IngestBatch) -> tuple:
    return (batch.status, batch.received, batch.accepted, batch.duplicates, batch.quarantined)


def test_ingest_prices_attributes_and_rolls_up(priced_org):
    batch = ingest(
        priced_org, [event("r1", tags={"team": "support"}), event("r2", gateway_key_id="gk-sales")]
    )
    assert counts(batch) == ("done", 2, 2, 0, 0)
    with within(priced_org):
        e1 = UsageEvent.objects.get(organization=priced_org, request_id="r1")
        assert (e1.unit.code, e1.attribution, e1.model, e1.model_raw) == (
            "SUP",
            "team_tag",
            "gpt-4o-mini",
            "gpt-4o-mini-2024-07-18",
        )
        assert e1.cost == Decimal("0.000360000000")
        assert e1.price.version.number == 1
        rollup = DailyUsage.objects.filter(organization=priced_org)
        assert rollup.aggregate(c=Sum("cost"), r=Sum("requests")) == {
            "c": Decimal("0.00072"),
            "r": 2,
        }
        assert rollup.get(unit__code="SALES").day == dt.date(2026, 10, 3)


def test_attribution_order(priced_org):
    events = [
        event(
            "t", tags={"team": "SALES"}, gateway_key_id="gk-sales", provider_account="proj_agent"
        ),  # team tag wins
        event(
            "k", tags={"team": "nobody"}, gateway_key_id="gk-sales", provider_account="proj_agent"
        ),  # key
        event("a", provider_account="proj_agent", tags={"service": "ticket-summarizer"}),  # account
        event(
            "s", tags={"service": "ticket-summarizer", "environment": "staging"}
        ),  # service owner
        event("r", tags={"environment": "staging"}),  # rule
        event("c"),  # central
    ]
    ingest(priced_org, events)
    with within(priced_org):
        got = {
            e.request_id: (e.unit.code, e.attribution)
            for e in UsageEvent.objects.filter(organization=priced_org).select_related("unit")
        }
    assert got == {
        "t": ("SALES", "team_tag"),
        "k": ("SALES", "gateway_key"),
        "a": ("AGENT", "provider_account"),
        "s": ("SUP", "service"),
        "r": ("OPS", "rule"),
        "c": ("CENTRAL", "central"),
    }


def test_replaying_a_batch_changes_no_total(priced_org):
    events = [event(f"r{i}", input_tokens=100 + i) for i in range(20)]
    first = ingest(priced_org, events)
    with within(priced_org):
        before = DailyUsage.objects.filter(organization=priced_org).aggregate(
            c=Sum("cost"), r=Sum("requests")
        )
    for _ in range(3):
        again = ingest(priced_org, events)
        assert counts(again) == ("done", 20, 0, 20, 0)
    assert counts(first) == ("done", 20, 20, 0, 0)
    with within(priced_org):
        after = DailyUsage.objects.filter(organization=priced_org).aggregate(
            c=Sum("cost"), r=Sum("requests")
        )
        assert before == after and UsageEvent.objects.filter(organization=priced_org).count() == 20


def test_duplicates_within_a_batch_and_conflicts(priced_org):
    batch = ingest(priced_org, [event("d"), event("d"), event("d", output_tokens=999)])
    assert counts(batch) == ("done", 3, 1, 1, 1)
    with within(priced_org):
        q = QuarantinedEvent.objects.get(organization=priced_org, batch=batch)
        assert (q.reason, q.line, q.request_id) == ("conflicting_duplicate", 3, "d")
    later = ingest(priced_org, [event("d", model="gpt-4o")])
    assert counts(later) == ("done", 1, 0, 0, 1)
    with within(priced_org):
        assert UsageEvent.objects.get(organization=priced_org, request_id="d").output_tokens == 300


def test_bad_records_are_quarantined_with_reasons(priced_org):
    batch = ingest(
        priced_org,
        [
            event("ok"),
            "{not json",
            event("neg", input_tokens=-1),
            event("unknown", model="gpt-7-preview"),
            event("prod", tags={"environment": "production", "team": "SUP"}),
        ],
    )
    assert counts(batch) == ("done", 5, 1, 0, 4)
    with within(priced_org):
        rows = {
            q.line: (q.reason, q.reasons[0]["field"])
            for q in QuarantinedEvent.objects.filter(batch=batch)
        }
        assert rows == {
            2: ("malformed", "record"),
            3: ("negative_tokens", "input_tokens"),
            4: ("no_price", "model"),
            5: ("missing_tag", "tags.service"),
        }
        unknown = QuarantinedEvent.objects.get(batch=batch, line=4)
        assert unknown.reasons[0]["problem"] == "no price for openai/gpt-7-preview on 2026-10-03"
        assert json.loads(unknown.raw)["model"] == "gpt-7-preview"


def test_retries_are_linked_and_failed_attempts_priced(priced_org):
    ingest(
        priced_org,
        [
            event("try1", status_code=500, output_tokens=0),
            event("try2", retry_of="try1", attempt=2, status_code=200),
        ],
    )
    with within(priced_org):
        first = UsageEvent.objects.get(organization=priced_org, request_id="try1")
        second = UsageEvent.objects.get(organization=priced_org, request_id="try2")
        assert (first.is_error, first.cost) == (True, Decimal("0.000180000000"))
        assert (second.retry_of, second.attempt, second.is_error) == ("try1", 2, False)
        day = DailyUsage.objects.filter(organization=priced_org).aggregate(
            e=Sum("errors"), ec=Sum("error_cost")
        )
        assert day == {"e": 1, "ec": Decimal("0.00018")}


def test_prices_are_effective_dated_and_not_repriced(priced_org):
    ingest(priced_org, [event("old", occurred_at="2026-10-31T22:59:59Z")])
    rows = parse_prices(
        HEADER + "openai,gpt-4o-mini,2026-11-01,0.30,1.20,,,,,,USD,rise,2026-10-20\n"
    )
    with within(priced_org):
        import_prices(priced_org, rows, actor="test", label="rise")
    ingest(priced_org, [event("new", occurred_at="2026-10-31T23:00:00Z")])  # midnight in Berlin
    with within(priced_org):
        old = UsageEvent.objects.get(organization=priced_org, request_id="old")
        new = UsageEvent.objects.get(organization=priced_org, request_id="new")
        assert (old.cost, new.cost) == (Decimal("0.000360000000"), Decimal("0.000720000000"))
        assert new.price.version.number > old.price.version.number


def test_design_worked_figures_through_ingestion_and_spend(priced_org, tmp_path, capsys):
    """Support 2,000,000 calls at $0.0008, Sales 80,000 at $0.09, an agent 300,000 failed at $0.015."""
    path = tmp_path / "worked.ndjson"
    with path.open("w") as out:
        for team, model, n, status in (
            ("SUP", "support-bot", 2000, 200),
            ("SALES", "sales-bot", 80, 200),
            ("AGENT", "agent-bot", 300, 500),
        ):
            for i in range(n):
                out.write(
                    json.dumps(
                        event(
                            f"{team}-{i}",
                            provider="internal",
                            model=model,
                            input_tokens=0,
                            output_tokens=0,
                            status_code=status,
                            tags={"team": team},
                        )
                    )
                    + "\n"
                )
    call_command("ingest_events", "--org", priced_org.slug, str(path))
    assert (
        capsys.readouterr()
        .out.strip()
        .splitlines()[-1]
        .endswith("received=2380 accepted=2380 duplicates=0 quarantined=0")
    )
    with within(priced_org):
        report = spend_report(priced_org, Period.parse("2026-10"))
        costs = {u["code"]: u["cost"] for u in report["units"]}
        # 1/1000 of the calls: $1.60, $7.20, $4.50 -> total $13.30; x1000 gives the design's figures
        assert costs == {"SUP": "1.6", "SALES": "7.2", "AGENT": "4.5"}
        assert report["total"]["cost"] == "13.3"
        sales_agent = Decimal(costs["SALES"]) + Decimal(costs["AGENT"])
        assert (sales_agent / Decimal(report["total"]["cost"])).quantize(
            Decimal("0.01")
        ) == Decimal("0.88")
    call_command("spend", "--org", priced_org.slug, "--period", "2026-10", "--format", "json")
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == {
        "requests": 2380,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost": "13.3",
    }
    assert data["unallocated"] == {"requests": 0, "cost": "0"}
    call_command("spend", "--org", priced_org.slug, "--period", "2026-10")
    table = capsys.readouterr().out
    assert "13.30" in table and "7.20" in table


def test_a_crash_mid_batch_loses_nothing_and_counts_nothing_twice(priced_org, monkeypatch):
    events = [event(f"k{i}") for i in range(25)]
    with within(priced_org):
        batch = create_batch(
            organization=priced_org, payload=ndjson(events), fmt="ndjson", source="test"
        )
    monkeypatch.setattr(ingest_module, "CHUNK_SIZE", 10)
    real_write, calls = writer.write_events, []

    def crash_on_third_chunk(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("worker killed")
        return real_write(*args)

    monkeypatch.setattr(writer, "write_events", crash_on_third_chunk)
    with pytest.raises(RuntimeError, match="worker killed"):
        process_batch(batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.records_done, batch.accepted) == ("processing", 20, 20)
    with within(priced_org):
        assert UsageEvent.objects.filter(organization=priced_org).count() == 20
    resumed = process_batch(batch.pk)
    assert counts(resumed) == ("done", 25, 25, 0, 0)
    with within(priced_org):
        assert UsageEvent.objects.filter(organization=priced_org).count() == 25
        assert (
            DailyUsage.objects.filter(organization=priced_org).aggregate(r=Sum("requests"))["r"]
            == 25
        )
    assert counts(process_batch(batch.pk)) == ("done", 25, 25, 0, 0)


def test_spend_all_lists_zero_units_and_unallocated(priced_org):
    ingest(priced_org, [event("c1"), event("c2", tags={"team": "SUP"})])
    with within(priced_org):
        report = spend_report(priced_org, Period.parse("2026-10"), include_all=True)
        assert [u["code"] for u in report["units"]] == ["AGENT", "CENTRAL", "OPS", "SALES", "SUP"]
        assert report["unallocated"] == {"requests": 1, "cost": "0.00036"}
        assert sum(Decimal(u["cost"]) for u in report["units"]) == Decimal(report["total"]["cost"])


def test_text_with_tabs_newlines_and_backslashes_is_stored_as_sent(priced_org):
    odd = ["tab\there", "back\\slash", "new\nline", "cr\rhere", "\\N", "plain"]
    events = [
        event(f"o{i}-{text}", user_ref=text, tags={"workflow": text}, status_code=None)
        for i, text in enumerate(odd)
    ] + [event("p1", status_code=200), event("p2")]
    batch = ingest(priced_org, events)
    assert counts(batch) == ("done", 8, 8, 0, 0)
    with within(priced_org):
        stored = dict(
            UsageEvent.objects.filter(organization=priced_org).values_list("request_id", "user_ref")
        )
        assert stored == {f"o{i}-{text}": text for i, text in enumerate(odd)} | {"p1": "", "p2": ""}
        workflows = UsageEvent.objects.filter(organization=priced_org, request_id="o0-tab\there")
        assert workflows.values_list("workflow", "status_code").get() == ("tab\there", None)
        assert UsageEvent.objects.get(organization=priced_org, request_id="p1").status_code == 200


def test_local_days_match_the_timezone_across_dst_and_odd_offsets():
    import datetime as dt
    import zoneinfo

    from chargeback.usage.rollup import LocalDays
    from chargeback.usage.validation import validate

    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    for zone in ("Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe", "UTC"):
        tz = zoneinfo.ZoneInfo(zone)
        days = LocalDays(tz)
        at = dt.datetime(2026, 3, 27, tzinfo=dt.UTC)
        while at < dt.datetime(2026, 4, 7, tzinfo=dt.UTC):
            draft = validate(event("x", occurred_at=at.isoformat().replace("+00:00", "Z")), now=now)
            assert days(draft) == at.astimezone(tz).date(), (zone, at)
            at += dt.timedelta(minutes=7)


def test_events_relations_are_kept_by_django_without_database_constraints(priced_org):
    """UsageEvent's relations have no database constraint (ingestion speed): Django still
    refuses to delete a unit, price or batch that events point to, and follows the relations
    when an organisation is deleted."""
    from django.db.models import ProtectedError
    from django.db.models.deletion import Collector

    batch = ingest(priced_org, [event("d1", tags={"team": "SUP"})])
    with within(priced_org):
        stored = UsageEvent.objects.get(organization=priced_org, request_id="d1")
        for obj in (stored.unit, stored.price, batch):
            with pytest.raises(ProtectedError) as refused:
                obj.delete()
            assert stored in refused.value.protected_objects
        assert UsageEvent.objects.filter(pk=stored.pk).exists()
        with pytest.raises(ProtectedError) as refused:  # units and prices protect themselves
            Collector(using="default").collect([priced_org])
        assert stored in refused.value.protected_objects  # reached through the organisation


def test_a_stale_lookup_is_caught_by_the_unique_constraint(priced_org, monkeypatch):
    """Ids the look-up before the transaction missed (here: all of them) are refused by the
    unique (organization, request_id), and the chunk is written again, checked under the lock."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the look-up before the transaction is made on PostgreSQL")
    monkeypatch.setattr(ingest_module, "CHUNK_SIZE", 10)
    monkeypatch.setattr(pipeline, "PRECHECK_MIN", 1)
    monkeypatch.setattr(pipeline, "stored_states", lambda org, priced: "0" * len(priced))
    events = [event(f"s{i}") for i in range(15)]
    events += [event("s3"), event("s4", input_tokens=7)] + [event(f"t{i}") for i in range(3)]
    batch = ingest(priced_org, events)
    assert counts(batch) == ("done", 20, 18, 1, 1)
    with within(priced_org):
        assert UsageEvent.objects.filter(organization=priced_org).count() == 18
        assert QuarantinedEvent.objects.get(batch=batch).reason == "conflicting_duplicate"
        assert (
            DailyUsage.objects.filter(organization=priced_org).aggregate(r=Sum("requests"))["r"]
            == 18
        )


def test_the_scheduler_sends_batches_stored_together_in_one_message(monkeypatch):
    sent: list[list[int]] = []
    scheduler = intake.Scheduler(sent.append)
    for batch_id in (1, 2, 3):
        scheduler.add(batch_id)
    deadline = time.monotonic() + 5
    while not sent and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(intake.GATHER_SECONDS)
    assert sent == [[1, 2, 3]]
    scheduler.add(4)
    while len(sent) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sent == [[1, 2, 3], [4]]


def test_the_scheduler_sends_the_process_batches_task_by_its_name(monkeypatch):
    """intake sends by name (it does not import the tasks); the names are the tasks' own."""
    sent: list = []
    app = SimpleNamespace(send_task=lambda name, args: sent.append((name, args)))
    monkeypatch.setattr(intake, "current_app", app)
    intake.send_batches([1, 2])
    assert sent == [("usage.process_batches", [[1, 2]])]
    assert (
        tasks.process_batch_task.name,
        tasks.process_batches_task.name,
        tasks.requeue_stuck_batches.name,
    ) == ("usage.process_batch", "usage.process_batches", "usage.requeue_stuck_batches")


def test_a_failing_batch_does_not_hold_up_the_others_in_its_message(monkeypatch):
    done: list[int] = []

    def process(pk: int) -> IngestBatch:
        if pk == 2:
            raise RuntimeError("database went away")
        done.append(pk)
        return IngestBatch(pk=pk)

    monkeypatch.setattr(tasks, "process_batch", process)
    with pytest.raises(RuntimeError, match="database went away"):
        tasks.process_batches_task.run([1, 2, 3])
    assert done == [1, 3]


def test_the_sweeper_queues_again_the_batches_stuck_in_any_organisation(
    priced_org, org_b, monkeypatch
):
    """requeue_stuck looks across organisations (scopes disabled, ids only) for batches that
    made no progress for a while, and queues each again."""
    import datetime as dt

    from django.utils import timezone

    monkeypatch.setattr(ingest_module, "schedule", lambda batch_id: None)  # left unprocessed
    with within(priced_org):
        stuck = create_batch(
            organization=priced_org, payload=ndjson([event("w1")]), fmt="ndjson", source="t"
        )
        old = timezone.now() - dt.timedelta(minutes=30)
        IngestBatch.objects.filter(pk=stuck.pk).update(created_at=old)
    with within(org_b):
        other = create_batch(
            organization=org_b, payload=ndjson([event("w2")]), fmt="ndjson", source="t"
        )
        fresh = create_batch(
            organization=org_b, payload=ndjson([event("w3")]), fmt="ndjson", source="t"
        )
        IngestBatch.objects.filter(pk=other.pk).update(status="processing", heartbeat_at=old)
    queued: list[int] = []
    monkeypatch.setattr(tasks.process_batch_task, "delay", queued.append)
    assert sorted(tasks.requeue_stuck()) == sorted(queued) == sorted([stuck.pk, other.pk])
    assert fresh.pk not in queued


def test_a_batch_whose_payload_is_missing_fails_with_a_reason(priced_org):
    """The worker marks it failed (not a crash): process_batch enters the batch's scope."""
    with within(priced_org):
        batch = create_batch(
            organization=priced_org, payload=ndjson([event("gone")]), fmt="ndjson", source="test"
        )
        IngestBatch.objects.filter(pk=batch.pk).update(payload="")
    failed = process_batch(batch.pk)
    assert (failed.status, failed.error) == ("failed", "the payload is missing")
