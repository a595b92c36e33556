"""The words of an alert: one headline (the bell, the email subject, Slack's `text` first
line) and the full message with the top drivers and the link to the unit page."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.urls import reverse

from chargeback.budgets.models import Alert, AlertKind


def unit_url(alert: Alert) -> str:
    path = reverse(
        "dashboards:unit-spend",
        kwargs={"org_slug": alert.organization.slug, "unit_id": alert.unit_id},
    )
    return settings.SITE_URL.rstrip("/") + path


def headline(alert: Alert) -> str:
    """One line for the bell, the email subject and Slack's `text`."""
    unit = f"{alert.unit.name} ({alert.unit.code})"
    cur = alert.organization.currency
    if alert.kind == AlertKind.FORECAST:
        return (
            f"{unit} is forecast to spend {alert.forecast:.2f} {cur} in {alert.month}, "
            f"over its budget of {alert.budget:.2f} {cur} (spent {alert.spend:.2f} so far)"
        )
    return (
        f"{unit} reached {alert.threshold}% of its {alert.month} budget: spent "
        f"{alert.spend:.2f} of {alert.budget:.2f} {cur} (forecast {alert.forecast:.2f})"
    )


def message(alert: Alert) -> str:
    """The full text: headline, top drivers and the link to the unit page."""
    lines = [headline(alert), "", "Top drivers:"]
    for d in alert.drivers:
        service = d.get("service") or "(no service)"
        lines.append(f"- {d['model']} / {service}: {Decimal(d['cost']):.2f}")
    if not alert.drivers:
        lines.append("- (no usage)")
    lines += ["", f"Unit page: {unit_url(alert)}"]
    return "\n".join(lines)
