"""Forms for the price-book pages: import a price file, and model aliases."""

from __future__ import annotations

from pathlib import PurePath

from django import forms

MAX_BYTES = 2_000_000
FORMATS = [("", "From the file name"), ("csv", "CSV"), ("json", "JSON")]


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="A .csv or .json price file with the columns of an export, up to 2 MB.",
        error_messages={"required": "Choose a price file.", "empty": "The file is empty."},
    )
    format = forms.ChoiceField(choices=FORMATS, required=False)

    def clean(self) -> dict:
        data = super().clean()
        upload = data.get("file")
        if upload is None:
            return data
        if upload.size > MAX_BYTES:
            raise forms.ValidationError({"file": "The file is larger than 2 MB."})
        extension = PurePath(upload.name or "").suffix.lower().lstrip(".")
        fmt = data.get("format") or extension
        if fmt not in ("csv", "json"):
            raise forms.ValidationError(
                {
                    "file": f"“{upload.name}” is not a price file: the name must end in .csv or .json."
                }
            )
        data["format"] = fmt
        try:
            data["text"] = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError(
                {"file": f"The file is not UTF-8 text (invalid byte at position {exc.start + 1})."}
            ) from None
        return data


class ApplyForm(forms.Form):
    """The previewed file travels back in hidden fields and is parsed again before writing."""

    text = forms.CharField(strip=False, max_length=MAX_BYTES, widget=forms.HiddenInput)
    format = forms.ChoiceField(choices=FORMATS[1:], widget=forms.HiddenInput)
    label = forms.CharField(
        max_length=200, help_text="A name for the new price version, e.g. “November list prices”."
    )


class AliasForm(forms.Form):
    provider = forms.CharField(
        max_length=60,
        required=False,
        help_text="Leave blank to match the raw name from any provider.",
    )
    raw = forms.CharField(
        label="Raw model name",
        max_length=200,
        help_text="As usage reports it, e.g. “my-gpt4o-deployment” (matched case-insensitively).",
    )
    canonical_provider = forms.CharField(
        max_length=60, widget=forms.TextInput(attrs={"list": "providers"})
    )
    canonical_model = forms.CharField(
        max_length=200,
        widget=forms.TextInput(attrs={"list": "models"}),
        help_text="A model of the price book.",
    )
