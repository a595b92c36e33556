"""The forms of the dispute pages: opening one, and the filters of the inbox."""

from __future__ import annotations

from django import forms

from chargeback.billing.models import Statement
from chargeback.disputes.attachments import file_problem
from chargeback.disputes.models import Reason, State
from chargeback.disputes.operations import claimable
from chargeback.money import quantize

MAX_EVIDENCE_BYTES = 5 * 1024 * 1024


class OpenDisputeForm(forms.Form):
    lines = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The lines you dispute; none means the whole statement.",
    )
    amount = forms.CharField(max_length=30, help_text="How much of the charge is wrong.")
    reason = forms.ChoiceField(choices=Reason.choices)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=5000)
    request_ids = forms.CharField(
        required=False,
        max_length=5000,
        help_text="Request ids behind the wrong charge, separated by commas or new lines.",
    )
    evidence_file = forms.FileField(required=False, help_text="A screenshot, export or log (5 MB).")

    def __init__(self, *args, statement: Statement, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lines"].choices = [
            (str(x.pk), f"{x.position}. {x.get_kind_display()}: {x.description} ({x.amount})")
            for x in statement.lines.order_by("position")
        ]

    def clean_evidence_file(self):
        f = self.cleaned_data.get("evidence_file")
        if f and f.size > MAX_EVIDENCE_BYTES:
            raise forms.ValidationError("The file is larger than 5 MB.")
        problem = file_problem(f) if f else ""
        if problem:
            raise forms.ValidationError(problem[0].upper() + problem[1:] + ".")
        return f

    def clean_request_ids(self) -> list[str]:
        text = self.cleaned_data.get("request_ids") or ""
        return [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]


def prefill(statement: Statement, line_ids: list[str]) -> dict:
    """The opening form for the statement's lines `line_ids` (a line's Dispute action): those
    lines ticked and what may still be disputed on them (their amount less what other
    disputes claim); ids that are not the statement's lines are ignored."""
    wanted = {int(x) for x in line_ids if x.isdigit()}
    lines = [x for x in statement.lines.all() if x.pk in wanted]
    if not lines:
        return {}
    amount = claimable(statement, [x.pk for x in lines])
    return {
        "lines": [str(x.pk) for x in lines],
        "amount": str(quantize(amount, statement.currency)) if amount > 0 else "",
    }


class InboxFilterForm(forms.Form):
    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *State.choices])
    reason = forms.ChoiceField(required=False, choices=[("", "Any reason"), *Reason.choices])
    unit = forms.ChoiceField(required=False)
    overdue = forms.BooleanField(required=False)
    sort = forms.ChoiceField(
        required=False,
        choices=[("", "Newest"), ("respond_by", "Respond by"), ("-amount", "Amount")],
    )

    def __init__(self, *args, units, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = [("", "Any unit")] + [(u.code, u.code) for u in units]
