"""The configuration-file page: download the structure as YAML or JSON, upload a file (or paste
it), preview its changes and errors without writing, then confirm to apply it."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chargeback.provisioning.config import (
    FORMATS,
    ConfigError,
    Plan,
    apply_config,
    decode_config,
    dump_config,
    export_config,
    parse_config,
    plan_config,
)
from chargeback.tenancy.permissions import org_permission

MAX_BYTES = 1_000_000
CONTENT_TYPES = {"yaml": "application/yaml; charset=utf-8", "json": "application/json"}


class UploadForm(forms.Form):
    file = forms.FileField(
        required=False,
        help_text="A .yaml, .yml or .json file, up to 1 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".yaml,.yml,.json"}),
    )
    text = forms.CharField(
        label="Or paste the configuration",
        required=False,
        strip=False,
        max_length=MAX_BYTES,
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
    )

    def clean(self) -> dict:
        data = super().clean()
        upload, text = data.get("file"), data.get("text", "")
        if upload and text.strip():
            raise forms.ValidationError("Choose a file or paste text, not both.")
        if upload:
            if upload.size > MAX_BYTES:
                raise forms.ValidationError("The file is larger than 1 MB.")
            try:
                data["text"] = decode_config(upload.read())
            except ConfigError as exc:
                raise forms.ValidationError(exc.errors) from None
        elif not text.strip() and not self.errors:
            raise forms.ValidationError("Choose a file or paste the configuration.")
        return data


class ConfirmForm(forms.Form):
    text = forms.CharField(strip=False, max_length=MAX_BYTES, widget=forms.HiddenInput)


def _plan(request: HttpRequest, text: str) -> Plan:
    try:
        return plan_config(request.org, parse_config(text))
    except ConfigError as exc:
        return Plan(errors=exc.errors)


def _preview(request: HttpRequest, text: str, plan: Plan) -> HttpResponse:
    context = {"plan": plan, "confirm": ConfirmForm(initial={"text": text})}
    return render(request, "units/config_preview.html", context)


@org_permission("config.manage")
@require_http_methods(["GET", "POST"])
def config_page(request: HttpRequest, org_slug: str) -> HttpResponse:
    """GET: download links and the upload form. POST: the preview, which writes nothing."""
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        text = form.cleaned_data["text"]
        return _preview(request, text, _plan(request, text))
    return render(request, "units/config_form.html", {"form": form, "formats": FORMATS})


@org_permission("config.manage")
@require_POST
def config_apply(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Re-validate the previewed text and apply it in one transaction."""
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The confirmation carried no configuration: upload it again.")
        return redirect("units:config", org_slug=request.org.slug)
    text = form.cleaned_data["text"]
    try:
        plan = apply_config(request.org, parse_config(text), actor=request.user)
    except ConfigError as exc:
        return _preview(request, text, Plan(errors=exc.errors))
    n = len(plan.changes)
    if n:
        messages.success(request, f"Applied {n} change{'' if n == 1 else 's'}.")
    else:
        messages.info(request, "No changes: the organization already matches the file.")
    return redirect("units:config", org_slug=request.org.slug)


@org_permission("config.manage")
@require_GET
def config_download(request: HttpRequest, org_slug: str) -> HttpResponse:
    fmt = request.GET.get("format", "yaml")
    if fmt not in FORMATS:
        raise Http404("Unknown format.")
    body = dump_config(export_config(request.org), fmt)
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{request.org.slug}-config.{fmt}"'
    return response
