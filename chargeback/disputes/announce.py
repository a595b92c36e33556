"""Who is told what, in the app and by mail (`notices.notify`, once per member and key):

- statements issued (billing's `statements_issued`): each unit's owner and team leads get the
  amount, the change from last month, the last day to dispute and a link;
- a dispute opened, moved (review, information requested or answered, resolved, withdrawn):
  finance, and the unit's people and the opener, but never the one who did it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.urls import reverse

from chargeback.billing.models import Statement, StatementStatus
from chargeback.calendar import Period
from chargeback.disputes.models import Dispute, DisputeEvent
from chargeback.money import format_money
from chargeback.notices.recipients import finance_people, people_of_units
from chargeback.notices.send import notify
from chargeback.tenancy.models import Membership, Organization
from chargeback.tenancy.scoping import within

# the dispute events that tell people (comments and the overdue flag do not)
TOLD = {
    "open": "opened",
    "start_review": "is under review",
    "request_info": "needs information from you",
    "answer_info": "was answered",
    "accept": "was accepted",
    "partially_accept": "was partially accepted",
    "reject": "was rejected",
    "withdraw": "was withdrawn",
}


def statement_link(statement: Statement) -> str:
    return reverse(
        "billing:statement-detail",
        kwargs={"org_slug": statement.organization.slug, "statement_id": statement.pk},
    )


def dispute_link(dispute: Dispute) -> str:
    return reverse(
        "disputes:dispute-detail",
        kwargs={"org_slug": dispute.organization.slug, "dispute_id": dispute.pk},
    )


def change_from_last_month(statement: Statement) -> str:
    """ "+$3.00 from September 2026 ($5.25)", or that there was no statement then."""
    before = Period.of(statement.period.month).previous
    prev = (
        Statement.objects.filter(
            organization=statement.organization_id,
            unit_id=statement.unit_id,
            period__month=before.first,
        )
        .exclude(status=StatementStatus.DRAFT)
        .first()
    )
    if prev is None:
        return f"no statement for {before.title}"
    diff = statement.total - prev.total
    sign = "+" if diff >= 0 else "-"
    cur = statement.currency
    return (
        f"{sign}{format_money(abs(diff), cur)} from {before.title} "
        f"({format_money(prev.total, cur)})"
    )


def statements_issued(
    sender: object, *, organization: Organization, period_id: int, deadline: dt.date, **kw
) -> int:
    """Tell each issued statement's unit people; returns how many notices were written."""
    count = 0
    with within(organization):
        statements = list(
            Statement.objects.filter(organization=organization, period_id=period_id).select_related(
                "unit", "period", "organization"
            )
        )
        people = people_of_units(organization, {st.unit for st in statements})
        for st in statements:
            users, emails = people[st.unit_id]
            subject = (
                f"Statement {st.number} for {st.unit_name or st.unit.name}: "
                f"{format_money(st.total, st.currency)} for {st.period.title}"
            )
            body = "\n".join(
                [
                    f"{st.period.title} is issued: {st.unit_name or st.unit.name} "
                    f"({st.unit_code}) owes {format_money(st.total, st.currency)}"
                    f"{' (showback: no money moves)' if not st.is_chargeback else ''}.",
                    f"Change from last month: {change_from_last_month(st)}.",
                    f"You can dispute a charge until {deadline:%A %-d %B %Y} (end of day, "
                    f"{organization.timezone}).",
                ]
            )
            told = notify(
                organization,
                users,
                key=f"statement:{st.pk}:issued",
                subject=subject,
                body=body,
                link=statement_link(st),
                emails=emails,
            )
            count += len(told)
    return count


def dispute_moved(event: DisputeEvent) -> None:
    """Tell the people of `event`'s dispute what happened (inside the operation's transaction:
    the notices commit with it, the mail goes after)."""
    if event.action not in TOLD:
        return
    d = event.dispute
    org = d.organization
    users, _ = people_of_units(org, [d.unit])[d.unit_id]
    users = [*finance_people(org), *users]
    if Membership.objects.filter(organization=org, user_id=d.opened_by_id).exists():
        users.append(d.opened_by)  # the opener, while a member (a removed one is not told)
    users = [u for u in users if u.pk != event.actor_id]
    what = TOLD[event.action]
    amount = format_money(d.amount, d.statement.currency)
    subject = f"Dispute {d.pk} on {d.statement.number} ({d.unit.code}, {amount}) {what}"
    lines = [f"{event.actor_label} {event.label}."]
    if event.text:
        lines += ["", event.text]
    if event.action == "open":
        lines += [
            "",
            f"Reason: {d.get_reason_display()}. Finance responds by {d.respond_by:%A %-d %B %Y}.",
        ]
    if event.action == "request_info":
        lines += ["", "The response clock is paused until the unit answers on the dispute page."]
    if d.credited is not None and event.action in ("accept", "partially_accept"):
        lines += ["", f"Credited: {format_money(d.credited or Decimal(0), d.statement.currency)}."]
    notify(
        org,
        users,
        key=f"dispute:{d.pk}:event:{event.pk}",
        subject=subject,
        body="\n".join(lines),
        link=dispute_link(d),
    )
