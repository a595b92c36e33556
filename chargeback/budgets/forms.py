from __future__ import annotations

from django import forms

from chargeback.budgets.models import Webhook, threshold_errors


class BudgetForm(forms.Form):
    amount = forms.DecimalField(
        label="Monthly amount", max_digits=18, decimal_places=4, min_value=0
    )
    currency = forms.CharField(max_length=3, help_text="The organisation's currency.")
    thresholds = forms.CharField(
        initial="50, 80, 100", help_text="Percents of the budget, comma-separated."
    )
    hard = forms.BooleanField(
        label="Hard limit (gateway authorization denies above 100%)", required=False
    )
    include_descendants = forms.BooleanField(
        label="Include the units below", required=False, initial=True
    )

    def clean_thresholds(self) -> list[int]:
        text = self.cleaned_data["thresholds"]
        try:
            values = [int(p) for p in text.replace(";", ",").split(",") if p.strip()]
        except ValueError as exc:
            raise forms.ValidationError(f'"{text}" is not a list of whole percents') from exc
        problem = threshold_errors(values)
        if problem:
            raise forms.ValidationError(problem)
        return sorted(values)

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()


class WebhookForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")

    class Meta:
        model = Webhook
        fields = ["name", "url", "secret"]
        widgets = {"secret": forms.PasswordInput(render_value=False)}
