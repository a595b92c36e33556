"""Thin task wrappers. Tasks take ids and load what they need."""

import logging
import smtplib

from django.conf import settings
from django.core.mail import send_mail

from chargeback.tenancy.models import Membership, Organization
from chargeback.tenancy.scoping import org_task

log = logging.getLogger(__name__)


@org_task(
    Membership,
    name="tenancy.send_invitation",
    bind=True,
    max_retries=5,
    default_retry_delay=120,
)
def send_invitation(self, membership_id: int, link: str, *, organization: Organization) -> bool:
    membership = Membership.objects.select_related("user", "organization").get(pk=membership_id)
    try:
        _send(membership, link)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("invitation mail to %s failed: %s", membership.user.email, exc)
        if self.request.is_eager:
            return False  # the set-password link is also shown to the admin who added the member
        raise self.retry(exc=exc) from exc
    return True


def _send(membership: Membership, link: str) -> None:
    org = membership.organization
    send_mail(
        subject=f"You have been added to {org.name} on Chargeback",
        message=(
            f"You were added to {org.name} as {membership.get_role_display()}.\n\n"
            f"Set your password here: {link}\n\nYour login is {membership.user.email}.\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[membership.user.email],
    )
