"""Mail to an organisation's admins: the one way the product tells them something went wrong
that nobody is watching a page for (a batch that failed for good, disputes gone overdue)."""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.core.mail import send_mail

from chargeback.tenancy.models import Membership, Organization, Role

log = logging.getLogger(__name__)


def mail_admins(organization: Organization, *, subject: str, message: str) -> bool:
    """Send `message` to the organisation's admins; False if there is nobody to tell or the
    mail could not be sent (logged; what it reports stays visible in the product)."""
    emails = list(
        Membership.objects.filter(organization=organization, role=Role.ADMIN).values_list(
            "user__email", flat=True
        )
    )
    if not emails:
        return False
    try:
        send_mail(
            subject=f"{organization.name}: {subject}",
            message=message,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=emails,
        )
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("mail to the admins of %s failed: %s", organization.slug, exc)
        return False
    return True
