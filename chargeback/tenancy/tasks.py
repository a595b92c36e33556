"""Thin task wrappers. Tasks take ids and load what they need."""

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from chargeback.tenancy.models import Membership


@shared_task(name="tenancy.send_invitation")
def send_invitation(membership_id: int, link: str) -> bool:
    membership = (
        Membership.objects.select_related("user", "organization").filter(pk=membership_id).first()
    )
    if membership is None:
        return False
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
    return True
