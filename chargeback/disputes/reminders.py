"""Reminders two business days (the organisation's calendar) before a deadline:

- finance, before the response date of each dispute it owes an answer on;
- a unit's owner and team leads, before the review window of its issued statement ends.

Each reminder is one notice per member and key (the key holds the deadline, so a moved
response date is reminded again): a beat run, or ten, sends it once."""

from __future__ import annotations

import datetime as dt

from chargeback.billing.models import Statement, StatementStatus
from chargeback.calendar import local_today
from chargeback.disputes.announce import dispute_link, statement_link
from chargeback.disputes.models import Dispute, State
from chargeback.money import format_money
from chargeback.notices.recipients import finance_people, people_of_units
from chargeback.notices.send import notify
from chargeback.tenancy.models import Organization

AHEAD = 2  # business days


def due_soon(organization: Organization, deadline: dt.date | None, today: dt.date) -> bool:
    """`deadline` is today or within AHEAD business days of it."""
    if deadline is None or deadline < today:
        return False
    return organization.calendar.between(today, deadline) <= AHEAD


def send_reminders(organization: Organization, *, today: dt.date | None = None) -> int:
    """Send the reminders due today not sent yet; returns how many notices were written."""
    today = today or local_today(organization.tz)
    count = 0
    finance = finance_people(organization)
    owing = Dispute.objects.filter(
        organization=organization, state__in=(State.OPEN, State.UNDER_REVIEW)
    ).select_related("statement", "unit", "organization")
    for d in owing:
        if not due_soon(organization, d.respond_by, today):
            continue
        amount = format_money(d.amount, d.statement.currency)
        count += len(
            notify(
                organization,
                finance,
                key=f"dispute:{d.pk}:respond-by:{d.respond_by.isoformat()}",
                subject=f"Respond to dispute {d.pk} ({d.unit.code}, {amount}) by "
                f"{d.respond_by:%A %-d %B}",
                body=f"Dispute {d.pk} on {d.statement.number} ({d.get_reason_display()}) "
                f"needs finance's answer by {d.respond_by:%A %-d %B %Y}; after that it is "
                "flagged overdue and the admins are told.",
                link=dispute_link(d),
            )
        )
    windows = [
        st
        for st in Statement.objects.filter(
            organization=organization, status=StatementStatus.ISSUED, dispute_deadline__gte=today
        ).select_related("unit", "period", "organization")
        if due_soon(organization, st.dispute_deadline, today)
    ]
    people = people_of_units(organization, {st.unit for st in windows}) if windows else {}
    for st in windows:
        users, _ = people[st.unit_id]
        count += len(
            notify(
                organization,
                users,
                key=f"statement:{st.pk}:window:{st.dispute_deadline.isoformat()}",
                subject=f"Statement {st.number}: disputes close on {st.dispute_deadline:%A %-d %B}",
                body=f"{st.period.title} for {st.unit_name or st.unit.name} "
                f"({format_money(st.total, st.currency)}) can be disputed until "
                f"{st.dispute_deadline:%A %-d %B %Y}; after that it becomes final.",
                link=statement_link(st),
            )
        )
    return count
