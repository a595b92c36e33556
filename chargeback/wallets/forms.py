"""The finance form that funds, tops up or moves money between wallets."""

from __future__ import annotations

import re
import uuid

from django import forms

from chargeback.wallets.models import Wallet

OPERATIONS = [("funding", "Fund"), ("top_up", "Top up"), ("transfer", "Transfer")]


class MoveForm(forms.Form):
    operation = forms.ChoiceField(choices=OPERATIONS)
    source = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="From (transfers)"
    )
    wallet = forms.TypedChoiceField(coerce=int, label="Wallet (to)")
    amount = forms.CharField(max_length=30)
    reason = forms.CharField(max_length=500)
    key = forms.CharField(widget=forms.HiddenInput, max_length=180)

    def __init__(self, *args, wallets: list[Wallet], **kwargs) -> None:
        kwargs.setdefault("initial", {}).setdefault("key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
        choices = [(w.pk, w.name) for w in wallets]
        self.fields["wallet"].choices = choices
        self.fields["source"].choices = [("", "—"), *choices]
        self.by_id = {w.pk: w for w in wallets}

    def clean(self) -> dict:
        data = super().clean()
        if data.get("operation") == "transfer" and not data.get("source"):
            self.add_error("source", "A transfer needs the wallet it comes from.")
        if not re.fullmatch(r"[A-Za-z0-9_.-]*", data.get("key") or ""):
            # The system's own keys (monthly:..., chargeback:..., credit_note:..., .../in)
            # have ":" or "/": one of them posted here would make that entry post nothing.
            self.add_error(None, "The form's key was changed: reload the form and try again.")
        return data
