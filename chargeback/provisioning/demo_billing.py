"""The demo organisation's billing: a policy with every feature in use, outcome counts, the
month before last closed (final; issued on the first business day after it, closed once its
review window had passed, with a few settled disputes), a few events for it that arrive late,
and last month issued on its first business day and left in review, with disputes in
progress (one open), for the user to work and close once its window has passed."""

from __future__ import annotations

import datetime as dt
import json

from chargeback.allocation.policy import parse_policy
from chargeback.billing.close import close_period, draft_statements, issue_statements
from chargeback.billing.finality import finalize_due
from chargeback.billing.inputs import month_totals
from chargeback.billing.models import OutcomeCount
from chargeback.billing.policy_versions import save_policy
from chargeback.billing.tasks import queue_pdfs
from chargeback.calendar import Period
from chargeback.provisioning.demo_disputes import seed_disputes, seed_live_disputes
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit
from chargeback.usage.ingest import create_batch, process_batch

ACTOR = "command:seed_demo"


def demo_policy(first_month: str) -> dict:
    return {
        "effective_from": first_month,
        "charge_basis": "token",
        "tier_mode": "volume",
        "tiers": [
            {"name": "Experimental", "up_to_tokens": 100_000_000, "markup": "0.50"},
            {"name": "Standard", "up_to_tokens": 1_000_000_000, "markup": "0.20"},
            {"name": "Enterprise", "up_to_tokens": None, "markup": "0.10"},
        ],
        "platform_fee": {"percent": "0.15", "fixed_per_unit": "0.00"},
        "failed_requests": "owner",
        "pools": [
            {
                "name": "Gateway infrastructure",
                "source": "manual",
                "amount": "2400.00",
                "basis": "spend",
                "targets": "all",
            },
            {
                "name": "Shared retrieval",
                "source": "service:shared-retrieval",
                "basis": "requests",
                "targets": "all",
            },
        ],
        "hybrid": {"central_baseline_per_unit": "0.00"},
        "activity_rates": [{"unit": "SUP-AUTO", "outcome": "resolved_ticket", "rate": "1.50"}],
        "discounts": [{"name": "Committed use", "amount": "1500.00", "basis": "model_spend"}],
        "experimental_allowance": {"per_unit": "250.00"},
    }


def seed_billing(org: Organization, *, days: int, today: dt.date) -> list[str]:
    """Returns what it did, one line each."""
    done = []
    first_day = today - dt.timedelta(days=days - 1)
    first = Period.of(first_day)
    save_policy(organization=org, policy=parse_policy(demo_policy(first.label)), actor=ACTOR)
    current = Period.of(today)
    months = []
    month = first
    while month.first < current.first:
        months.append(month)
        month = month.next
    sup_auto = BusinessUnit.objects.get(organization=org, code="SUP-AUTO")
    for i, month in enumerate([*months, current]):
        # Resolved tickets at $1.50 come near the reply drafter's usage; this month's so far.
        count = 7000 + 1000 * i
        if month == current:
            count = count * today.day // month.last.day
        OutcomeCount.objects.update_or_create(
            organization=org,
            unit=sup_auto,
            month=month.first,
            outcome="resolved_ticket",
            defaults={"count": count, "source": "demo"},
        )
    # Close every complete month but the last one, which stays open for the user.
    for month in months[:-1]:
        if month_totals(org, month)[1] == 0:
            continue
        draft_statements(org, month, actor=ACTOR)
        issued_on = org.calendar.add(month.last, 1)
        issue_statements(org, month, actor=ACTOR, queue_pdfs=queue_pdfs, today=issued_on)
        disputes = seed_disputes(org, month, issued_on=issued_on) if month == months[-2] else 0
        finalize_due(org, actor=ACTOR, today=today)
        close_period(org, month, actor=ACTOR, today=today)  # after its window: no override
        done.append(f"closed {month.label}" + (f" ({disputes} disputes)" if disputes else ""))
    if len(months) >= 2:
        done += _issue_last(org, months[-1], today=today)
    if len(months) >= 2 and done:
        late = _late_events(org, months[0])
        done.append(f"{late} late event(s) for {months[0].label}")
    return done


def _issue_last(org: Organization, month: Period, *, today: dt.date) -> list[str]:
    """Issue last month on its first business day and open the disputes in progress on it
    (not closed: a month with an open dispute cannot be)."""
    issued_on = org.calendar.add(month.last, 1)
    if issued_on > today or month_totals(org, month)[1] == 0:
        return []
    draft_statements(org, month, actor=ACTOR)
    issue_statements(org, month, actor=ACTOR, queue_pdfs=queue_pdfs, today=issued_on)
    live = seed_live_disputes(org, month, issued_on=issued_on, today=today)
    finalize_due(org, actor=ACTOR, today=today)
    return [f"issued {month.label} ({live} disputes in progress)"]


def _late_events(org: Organization, month: Period) -> int:
    """Support traffic for a closed month that reached the gateway's log late."""
    day = month.last - dt.timedelta(days=2)
    events = [
        {
            "request_id": f"demo-late-{month.label}-{i:03d}",
            "occurred_at": f"{day:%Y-%m-%d}T{9 + i % 8:02d}:{i % 60:02d}:00Z",
            "provider": "openai",
            "model": "gpt-4o-2024-08-06",
            "input_tokens": 60_000 + 370 * i,
            "output_tokens": 700,
            "gateway_key_id": "gk-support-prod",
            "status_code": 200,
            "tags": {
                "team": "SUP-T1",
                "service": "ticket-summarizer",
                "cost_center": "CC-410",
                "environment": "production",
            },
        }
        for i in range(40)
    ]
    payload = b"".join(json.dumps(e).encode() + b"\n" for e in events)
    batch = create_batch(
        organization=org,
        payload=payload,
        fmt="ndjson",
        source="demo",
        filename="late-arrivals.ndjson",
        created_by=ACTOR,
    )
    return process_batch(batch.pk).accepted
