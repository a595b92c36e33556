"""`notify`: tell members something, in the app and by mail, once per member and key.

Each member gets an unread Notice row; a member who already has the notice with that key (an
earlier run, another worker) is skipped: the insert is refused by the unique constraint, not
checked first. The mail goes after the commit to the members newly told (and to `emails`,
addresses that are not members, such as a unit owner without an account) and a failed mail
is logged: the notice is in the app anyway."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction

from chargeback.notices.models import Notice
from chargeback.tenancy.models import Organization

log = logging.getLogger(__name__)


def absolute(link: str) -> str:
    return settings.SITE_URL.rstrip("/") + link if link.startswith("/") else link


def notify(
    organization: Organization,
    users: Iterable[AbstractBaseUser],
    *,
    key: str,
    subject: str,
    body: str,
    link: str = "",
    emails: Iterable[str] = (),
) -> list[Notice]:
    """Write a notice for each of `users` not told `key` yet and mail them after the commit;
    returns the notices written."""
    created: list[Notice] = []
    seen: set[int] = set()
    for user in users:
        if user.pk in seen:
            continue
        seen.add(user.pk)
        try:
            with transaction.atomic():
                created.append(
                    Notice.objects.create(
                        organization=organization,
                        user=user,
                        key=key,
                        subject=subject[:300],
                        body=body,
                        link=link,
                    )
                )
        except IntegrityError:  # told already
            continue
    addresses = [n.user.email for n in created if n.user.email]
    addresses += [e for e in emails if e and e.lower() not in {a.lower() for a in addresses}]
    if addresses:
        text = body + (f"\n\n{absolute(link)}" if link else "")
        transaction.on_commit(
            partial(_mail, f"{organization.name}: {subject}", text, addresses), robust=True
        )
    return created


def _mail(subject: str, text: str, addresses: list[str]) -> None:
    messages = [
        EmailMessage(subject, text, settings.DEFAULT_FROM_EMAIL, [address])
        for address in dict.fromkeys(addresses)
    ]
    try:
        get_connection().send_messages(messages)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("notice mail %r failed: %s", subject, exc)
