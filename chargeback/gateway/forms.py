from __future__ import annotations

from django import forms

from chargeback.units.models import BusinessUnit


class ApprovalForm(forms.Form):
    unit = forms.ModelChoiceField(queryset=BusinessUnit.objects.none())
    provider = forms.CharField(max_length=60, help_text="e.g. openai, anthropic.")
    model = forms.CharField(max_length=200, help_text="As the price book names it, e.g. gpt-4o.")

    def __init__(self, *args, organization, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = BusinessUnit.objects.filter(
            organization=organization, archived=False
        ).order_by("code")
