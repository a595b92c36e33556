"""Forms of the close and statement pages: opening a month for closing, and the statement
list's filters (read from the query string; a bad value is ignored, never an error page)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django import forms

from chargeback.billing.models import StatementMode, StatementStatus
from chargeback.calendar import Period
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit

MONTHS_OFFERED = 24
SORTS = {
    "number": ("period__month", "sequence"),
    "-number": ("-period__month", "-sequence"),
    "unit": ("unit_code", "-period__month"),
    "-unit": ("-unit_code", "-period__month"),
    "total": ("total", "-period__month", "sequence"),
    "-total": ("-total", "-period__month", "sequence"),
}
DEFAULT_SORT = "-number"


def recent_months(organization: Organization, today: dt.date | None = None) -> list[Period]:
    """This month and the MONTHS_OFFERED - 1 before it, newest first (organisation's time)."""
    today = today or dt.datetime.now(organization.tz).date()
    months = [Period.of(today)]
    while len(months) < MONTHS_OFFERED:
        months.append(months[-1].previous)
    return months


class OpenPeriodForm(forms.Form):
    month = forms.ChoiceField(
        label="Month to close",
        help_text="Months are counted in the organisation's timezone.",
        error_messages={"invalid_choice": "Pick one of the listed months (YYYY-MM)."},
    )

    def __init__(self, *args, organization: Organization, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        months = recent_months(organization)
        self.fields["month"].choices = [(p.label, p.title) for p in months]
        self.fields["month"].initial = months[1].label  # the previous month

    def clean_month(self) -> Period:
        return Period.parse(self.cleaned_data["month"])


class StatementFilterForm(forms.Form):
    period = forms.ChoiceField(required=False, label="Period")
    mode = forms.ChoiceField(
        required=False, choices=[("", "Any mode"), *StatementMode.choices], label="Mode"
    )
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *StatementStatus.choices], label="Status"
    )
    unit = forms.ChoiceField(required=False, label="Unit")
    sort = forms.ChoiceField(required=False, choices=[(s, s) for s in SORTS])

    def __init__(
        self,
        data: dict,
        *,
        months: Iterable[dt.date],
        units: Iterable[BusinessUnit],
        statuses: Iterable[str] | None = None,
    ) -> None:
        super().__init__(data)
        self.fields["period"].choices = [("", "Any period")] + [
            (f"{m:%Y-%m}", f"{m:%B %Y}") for m in months
        ]
        self.fields["unit"].choices = [("", "Any unit")] + [
            (str(u.pk), f"{u.code} · {u.name}") for u in units
        ]
        if statuses is not None:
            allowed = set(statuses)
            self.fields["status"].choices = [
                (v, label) for v, label in self.fields["status"].choices if not v or v in allowed
            ]

    def values(self) -> dict[str, str]:
        """The valid filters as plain strings ("" where missing or invalid)."""
        self.is_valid()  # invalid fields are left out of cleaned_data
        return {
            name: self.cleaned_data.get(name, "")
            for name in ("period", "mode", "status", "unit", "sort")
        }
