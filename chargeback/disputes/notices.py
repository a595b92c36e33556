"""Overdue disputes: finance owes an answer and the response date has passed. Each is flagged
once (a DisputeEvent and an AuditEvent) and the organisation's admins are mailed once, after
the commit. Nothing expires silently: the dispute stays open and shows as overdue in the
inbox until finance resolves it."""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial

from django.db import transaction

from chargeback.audit.log import record
from chargeback.calendar import local_today
from chargeback.disputes.models import Dispute, DisputeEvent, State
from chargeback.tenancy.mail import mail_admins
from chargeback.tenancy.models import Organization

log = logging.getLogger(__name__)


def flag_overdue(
    organization: Organization, *, today: dt.date | None = None, actor: object = "system"
) -> list[Dispute]:
    """Flag the overdue disputes not flagged yet, and queue one mail to the admins."""
    today = today or local_today(organization.tz)
    with transaction.atomic():
        due = list(
            Dispute.objects.select_for_update()
            .filter(
                organization=organization,
                state__in=(State.OPEN, State.UNDER_REVIEW),
                respond_by__lt=today,
                overdue_notified_on__isnull=True,
            )
            .select_related("statement", "unit")
            .order_by("pk")
        )
        for d in due:
            d.overdue_notified_on = today
            d.save(update_fields=["overdue_notified_on"])
            DisputeEvent.objects.create(
                organization=organization,
                dispute=d,
                action="overdue",
                actor_label=str(actor),
                text=f"Finance was to respond by {d.respond_by:%Y-%m-%d}; the admins were told.",
            )
            record(
                organization=organization,
                actor=actor,
                action="dispute.overdue",
                obj=d,
                after={"respond_by": d.respond_by.isoformat()},
            )
        if due:
            lines = [
                f"- dispute {d.pk} on {d.statement.number} ({d.unit.code}): respond by "
                f"{d.respond_by:%Y-%m-%d}"
                for d in due
            ]
            transaction.on_commit(partial(_mail_admins, organization, lines))
    return due


def _mail_admins(organization: Organization, lines: list[str]) -> None:
    # Flagged anyway: the inbox shows them if the mail cannot be sent.
    mail_admins(
        organization,
        subject=f"{len(lines)} dispute(s) overdue on Chargeback",
        message="Finance has not answered these disputes in time:\n\n" + "\n".join(lines),
    )
