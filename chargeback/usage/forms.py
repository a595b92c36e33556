"""Forms for the usage pages: ingestion keys, uploads and the quarantine."""

from __future__ import annotations

import json
import secrets
from pathlib import PurePath

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from chargeback.tenancy.models import Organization
from chargeback.usage.models import IngestionKey
from chargeback.usage.records import MAX_JSON_DOCUMENT, check_csv_header
from chargeback.usage.sniff import EXTENSIONS, HEAD, by_content

UPLOAD_FORMATS = [
    ("", "Detect (from the file name and content)"),
    ("csv", "CSV"),
    ("ndjson", "NDJSON (one event per line)"),
    ("json", "JSON (an array of events)"),
    ("litellm", 'LiteLLM spend logs (JSON array, {"data": [...]} or NDJSON)'),
    ("otel", "OpenTelemetry traces (OTLP/JSON, as a collector's file exporter writes them)"),
]
FIRST_LINE_MAX = 64 * 1024


def upload_limit() -> int:
    return settings.INGEST_MAX_BYTES * 10


class KeyForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        help_text="What posts with this key, e.g. “LiteLLM gateway (production)”.",
    )
    # One per form shown: a second POST of the same form (a reload of the page that showed the
    # secret) shows that key again, without its secret, instead of creating another.
    nonce = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, organization: Organization, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.fields["nonce"].initial = secrets.token_urlsafe(16)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        taken = IngestionKey.objects.filter(
            organization=self.organization, name__iexact=name, revoked_at__isnull=True
        ).exists()
        if taken:
            raise forms.ValidationError(
                f"An active key is already named “{name}”: give this one a name that tells them "
                "apart (where it posts from, which environment)."
            )
        return name


class UploadForm(forms.Form):
    file = forms.FileField(
        error_messages={
            "required": "Choose a file to upload.",
            "empty": "The file is empty.",
        },
    )
    format = forms.ChoiceField(choices=UPLOAD_FORMATS, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = (
            f"A .csv, .ndjson, .jsonl or .json file of usage events, up to "
            f"{filesizeformat(upload_limit())}."
        )

    def clean(self) -> dict:
        data = super().clean()
        upload: UploadedFile | None = data.get("file")
        if upload is None:
            return data
        limit = upload_limit()
        if upload.size > limit:
            raise forms.ValidationError(
                {
                    "file": f"The file is {filesizeformat(upload.size)}; the limit is "
                    f"{filesizeformat(limit)} ({limit:,} bytes). Split it into smaller files."
                }
            )
        extension = PurePath(upload.name or "").suffix.lower()
        if extension not in EXTENSIONS:
            raise forms.ValidationError(
                {
                    "file": f"“{upload.name}” is not a usage file: the name must end in "
                    ".csv, .ndjson, .jsonl or .json."
                }
            )
        fmt = data.get("format")
        if not fmt:
            upload.seek(0)
            fmt = by_content(EXTENSIONS[extension], upload.read(HEAD))
            upload.seek(0)
        data["format"] = fmt
        if fmt == "json" and upload.size > MAX_JSON_DOCUMENT:
            raise forms.ValidationError(
                {
                    "file": f"A JSON file can be at most {filesizeformat(MAX_JSON_DOCUMENT)}: "
                    "save larger files as NDJSON (one event per line)."
                }
            )
        self._check_content(upload, fmt)
        return data

    def _check_content(self, upload: UploadedFile, fmt: str) -> None:
        upload.seek(0)
        first = upload.readline(FIRST_LINE_MAX)
        if not first.strip() and not upload.read(1024).strip():
            upload.seek(0)
            raise forms.ValidationError({"file": "The file is empty: it holds only blank lines."})
        upload.seek(0)
        if first.startswith(b"\xef\xbb\xbf"):
            raise forms.ValidationError(
                {
                    "file": "The file starts with a byte-order mark (BOM). Save it as UTF-8 "
                    "without BOM (in Excel: “CSV UTF-8” adds one; use a text editor or export "
                    "again)."
                }
            )
        try:
            text = first.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason != "unexpected end of data" or len(first) < FIRST_LINE_MAX:
                raise forms.ValidationError(
                    {
                        "file": f"The file is not UTF-8 text: the first line has an invalid "
                        f"byte at position {exc.start + 1}. Save it as UTF-8 and upload it again."
                    }
                ) from None
            text = first[: exc.start].decode("utf-8")
        if fmt == "csv":
            missing = check_csv_header(text.rstrip("\r\n"))
            if missing:
                raise forms.ValidationError(
                    {
                        "file": "The CSV header is missing the column(s) "
                        f"{', '.join(missing)}. The first line must name the columns."
                    }
                )
        elif fmt == "json" and text.lstrip()[:1] not in ("[", "{", ""):
            raise forms.ValidationError(
                {"file": "A JSON file must hold an array of events (it starts with “[”)."}
            )
        elif fmt == "otel" and text.lstrip()[:1] not in ("{", ""):
            raise forms.ValidationError(
                {
                    "file": "An OpenTelemetry file must hold one OTLP/JSON document (a JSON "
                    "object with “resourceSpans”, it starts with “{”)."
                }
            )
        elif fmt == "ndjson" and text.lstrip().startswith("["):
            raise forms.ValidationError(
                {
                    "file": "This looks like a JSON array, not NDJSON (one object per line): "
                    "choose the JSON format or name the file .json."
                }
            )


class FixForm(forms.Form):
    raw = forms.CharField(
        label="Record (JSON)",
        strip=False,
        max_length=1_000_000,
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "false"}),
        help_text="One JSON object with the fields of a usage event.",
    )

    @staticmethod
    def initial_text(raw: str) -> str:
        """The stored record, pretty-printed when it is JSON."""
        try:
            return json.dumps(json.loads(raw), indent=2, sort_keys=True)
        except ValueError:
            return raw


class DiscardForm(forms.Form):
    reason = forms.CharField(
        label="Why are these records discarded?",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept in the audit log with the records' request ids.",
    )
