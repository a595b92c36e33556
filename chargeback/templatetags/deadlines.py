"""`{{ statement|business_days_left }}`: the business days from today (in the organisation's
timezone and calendar) to a statement's dispute deadline, as words."""

from django import template

from chargeback.calendar import BusinessCalendar, local_today

register = template.Library()


@register.filter(name="business_days_left")
def business_days_left(statement) -> str:
    deadline = getattr(statement, "dispute_deadline", None)
    org = getattr(statement, "organization", None)
    if deadline is None or org is None:
        return ""
    today = local_today(org.tz)
    if today > deadline:
        return ""
    left = BusinessCalendar.of(org).between(today, deadline)
    if left == 0:
        return "last day"
    return f"{left} business day{'s' if left != 1 else ''} left"
