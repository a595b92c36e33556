from django import forms

from chargeback.tenancy.models import Role
from chargeback.units.models import BusinessUnit


class MemberForm(forms.Form):
    email = forms.EmailField(label="Email")
    name = forms.CharField(label="Full name", required=False, max_length=300)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)
    units = forms.ModelMultipleChoiceField(
        queryset=BusinessUnit.objects.none(),
        required=False,
        help_text="For team leads: the units they lead (they also see every unit below).",
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )

    def __init__(self, *args, organization, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["units"].queryset = BusinessUnit.objects.filter(
            organization=organization, archived=False
        ).order_by("code")
        if editing:
            del self.fields["email"]
            del self.fields["name"]

    def clean(self) -> dict:
        data = super().clean()
        if data.get("role") == Role.TEAM_LEAD and not data.get("units"):
            self.add_error("units", "A team lead needs at least one unit to lead.")
        return data
