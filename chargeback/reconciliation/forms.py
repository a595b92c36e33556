"""Forms of the invoice and reconciliation pages."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from chargeback.calendar import Period, is_month
from chargeback.reconciliation.thresholds import MAX_GRACE_MONTHS, Thresholds, parse_percent

MAX_BYTES = 5 * 1024 * 1024
FORMATS = (("csv", "CSV of lines"), ("focus", "FOCUS 1.x cost and usage"))


class PeriodForm(forms.Form):
    period = forms.CharField(required=False, max_length=7, help_text="YYYY-MM")

    def clean_period(self) -> Period | None:
        value = self.cleaned_data["period"].strip()
        if not value:
            return None
        if not is_month(value):
            raise forms.ValidationError(f'"{value[:20]}" is not a month (YYYY-MM).')
        return Period.parse(value)


class InvoiceUploadForm(PeriodForm):
    period = forms.CharField(max_length=7, help_text="The month billed, YYYY-MM.")
    format = forms.ChoiceField(choices=FORMATS, initial="csv")
    file = forms.FileField(required=False, help_text="Up to 5 MB.")
    lines = forms.CharField(
        required=False,
        strip=False,
        max_length=MAX_BYTES,
        widget=forms.Textarea(attrs={"rows": 6}),
        label="Or type the lines",
        help_text="provider,model,token_class,quantity,amount,currency — one line each, with "
        "the header line first.",
    )

    def clean(self) -> dict:
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            if upload.size > MAX_BYTES:
                self.add_error("file", "The file is larger than 5 MB.")
                return data
            try:
                data["text"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                self.add_error("file", f"The file is not UTF-8 text (byte {exc.start + 1}).")
                return data
            data["source"], data["filename"] = data.get("format", "csv"), upload.name
        elif data.get("lines", "").strip():
            data["text"], data["source"], data["filename"] = data["lines"], "manual", ""
            data["format"] = "csv"
        else:
            self.add_error("file", "Choose a file or type the lines.")
        return data


class ConfirmForm(forms.Form):
    """The previewed invoice travels back hidden and is checked again before writing."""

    period = forms.CharField(max_length=7, widget=forms.HiddenInput)
    format = forms.ChoiceField(choices=FORMATS, widget=forms.HiddenInput)
    source = forms.ChoiceField(
        choices=(("csv", "csv"), ("focus", "focus"), ("manual", "manual")),
        widget=forms.HiddenInput,
    )
    filename = forms.CharField(required=False, max_length=300, widget=forms.HiddenInput)
    text = forms.CharField(strip=False, max_length=MAX_BYTES, widget=forms.HiddenInput)

    def clean_period(self) -> Period:
        value = self.cleaned_data["period"]
        if not is_month(value):
            raise forms.ValidationError("Not a month.")
        return Period.parse(value)


def _percent(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label, max_length=20, help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "size": 6}),
    )  # fmt: skip


class ThresholdsForm(forms.Form):
    """The organisation's thresholds. Percents as people type them: "2" (or "2%") is 2%."""

    variance_threshold_pct = _percent(
        "Unexplained variance threshold (%)",
        'A month closes only while its unexplained variance is at most this; "2" is 2%.',
    )
    attributable_threshold_pct = _percent(
        "Attributable share threshold (%)",
        "A unit is ready when at least this share of its spend is attributed by evidence.",
    )
    require_named_owners = forms.BooleanField(
        required=False, label="Require named owners (the unit and its production gateway keys)"
    )
    absorb_grace_months = forms.IntegerField(
        label="Absorb grace period (months)", min_value=1, max_value=MAX_GRACE_MONTHS,
        help_text="Months in which the central bucket absorbs an unmapped gateway key's spend "
        "before the key is flagged.",
    )  # fmt: skip

    def clean_variance_threshold_pct(self) -> Decimal:
        return _percent_of(self.cleaned_data["variance_threshold_pct"])

    def clean_attributable_threshold_pct(self) -> Decimal:
        return _percent_of(self.cleaned_data["attributable_threshold_pct"])

    def thresholds(self) -> Thresholds:
        return Thresholds(**self.cleaned_data)


def _percent_of(text: str) -> Decimal:
    try:
        return parse_percent(text)
    except ValueError as exc:
        raise forms.ValidationError(str(exc)) from None
